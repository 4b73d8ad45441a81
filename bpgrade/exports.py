"""Exports of a batch of results: JSON lines, CSV for a gradebook or an LMS,
JUnit XML for CI, Markdown for a CI summary, Gradescope's results per submission.

Each function takes :class:`~bpgrade.reports.Report` s (from the gradebook or
from ``check``) and returns the text to write; none includes what a
submission printed.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Sequence

from . import gradescope
from .reports import Report, TargetResult, markdown_text, target_names

FORMATS = ("jsonl", "csv", "junit", "markdown", "gradescope")


def export(reports: Sequence[Report], fmt: str) -> str:
    """``reports`` in the format named ``fmt`` (one of :data:`FORMATS`)."""
    return {"jsonl": to_jsonl, "csv": to_csv, "junit": to_junit, "markdown": to_markdown,
            "gradescope": to_gradescope}[fmt](reports)


def to_jsonl(reports: Sequence[Report]) -> str:
    """One JSON result record per line."""
    return "".join(r.to_json() + "\n" for r in reports)


def feedback_files(reports: Sequence[Report]) -> dict[str, str]:
    """Each submission's report as a student sees it (hidden cases as counts only), by file name:
    ``alice.md`` (Markdown) and ``alice.html`` (a page of its own). A submission's id, which it
    controls, is made a plain file name: no folder, no hidden file, no name given twice."""
    files: dict[str, str] = {}
    for report in reports:
        stem = _file_stem(report.submission)
        while f"{stem}.md" in files:
            stem += "_"
        title = html.escape(f"{report.exercise}: {report.submission}")
        files[f"{stem}.md"] = report.to_markdown()
        files[f"{stem}.html"] = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                 f"<title>{title}</title></head><body>\n{report.to_html()}\n</body></html>\n")
    return files


def _file_stem(submission: str) -> str:
    stem = re.sub(r"[^\w.-]", "_", submission).lstrip(".") or "submission"
    return stem[:100]


def to_csv(reports: Sequence[Report]) -> str:
    """One row per submission: its id, exercise, status, a column per target's
    score, the total and the maximum; then, so that a regrade request needs no
    database, a column per target's diagnosis code (``w1_code``: empty where it
    passed, ``wrong`` where no diagnosis fits) and a ``message`` column with the
    first line of each failing target's reason (``w1: wrong in 24 of 24 cases;
    ...``), or of the whole submission's where it did not run. A text cell that
    a spreadsheet would take for a formula is neutralised (:func:`spreadsheet_text`)."""
    names = target_names(reports)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "exercise", "status", *map(spreadsheet_text, names), "score", "max_score",
                     *(spreadsheet_text(f"{n}_code") for n in names), "message"])
    for r in reports:
        by_name = {t.name: t for t in r.targets}
        writer.writerow([spreadsheet_text(r.submission), spreadsheet_text(r.exercise), r.status,
                         *(f"{by_name[n].score}" if n in by_name else "" for n in names), r.score, r.max_score,
                         *(_code(by_name.get(n)) for n in names), spreadsheet_text(" | ".join(r.reasons))])
    return out.getvalue()


def _code(target: TargetResult | None) -> str:
    if target is None or target.passed:
        return ""
    return target.diagnosis.code if target.diagnosis else "wrong"


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` for a spreadsheet cell: one that starts like a formula
    (``=HYPERLINK(...)``) gets a leading ``'``, so that it is shown, not run."""
    return "'" + text if text.startswith(_FORMULA_START) else text


#: Characters that XML 1.0 cannot hold (a submission's error message may carry them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_junit(reports: Sequence[Report]) -> str:
    """JUnit XML for CI (Jenkins, GitLab, GitHub): a testsuite per submission and a
    testcase per target. A wrong target is a ``failure`` whose type is its
    diagnosis code (``wrong`` when none fits) and whose text is the message
    and the diagnosis; a submission that did not run makes every target an
    ``error`` of its status (``timeout``, ``forbidden``, ...)."""
    def clean(text: str) -> str:
        return _NOT_XML.sub("?", text)

    suites = ET.Element("testsuites", name="bpgrade")
    total = failures = errors = 0
    for r in reports:
        ran = r.status == "ok"
        wrong = [t for t in r.targets if not t.passed]
        suite = ET.SubElement(suites, "testsuite", name=clean(f"{r.exercise}: {r.submission}"),
                              tests=str(len(r.targets)), failures=str(len(wrong) if ran else 0),
                              errors=str(0 if ran else len(wrong)), time=f"{r.seconds:.3f}")
        total += len(r.targets)
        failures += len(wrong) if ran else 0
        errors += 0 if ran else len(wrong)
        for t in r.targets:
            case = ET.SubElement(suite, "testcase", classname=clean(f"{r.exercise}.{r.submission}"),
                                 name=clean(t.name))
            if t.passed:
                continue
            kind = (t.diagnosis.code if t.diagnosis else "wrong") if ran else r.status
            element = ET.SubElement(case, "failure" if ran else "error", message=clean(t.message), type=kind)
            element.text = clean(t.feedback)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def to_markdown(reports: Sequence[Report]) -> str:
    """GitHub-flavoured Markdown: a table of the submissions with a ✅ or ❌ per
    target and the total (one submission's full report is
    :meth:`Report.to_markdown`)."""
    names = target_names(reports)
    lines = [f"### bpgrade: {len(reports)} submissions", "",
             "| submission | status | " + " | ".join(map(markdown_text, names)) + " | score |",
             "|---|---|" + "---|" * len(names) + "---|"]
    for r in reports:
        passed = {t.name: t.passed for t in r.targets}
        marks = ["" if n not in passed else "✅" if passed[n] else "❌" for n in names]
        lines.append(f"| {markdown_text(r.submission)} | {markdown_text(r.status)} | " + " | ".join(marks)
                     + f" | {r.points} |")
    return "\n".join(lines) + "\n"


def to_gradescope(reports: Sequence[Report]) -> str:
    """A JSON object mapping each submission id to its Gradescope results.json
    (to see what an autograder will give before uploading it)."""
    return json.dumps({r.submission: gradescope.results(r) for r in reports}, indent=1) + "\n"
