"""Grading results and how one is written out: the JSON record, the text
table, Markdown (a CI job's summary) and HTML (a notebook's table).

:class:`Report` is the result record of SPEC.md. Nothing here prints: the
command line writes what these functions return.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

#: The diagnosis vocabulary: each code and what it means (README.md, "Diagnoses").
DIAGNOSIS_CODES = {
    "missing": "the function is not defined",
    "shape": "a result of the wrong shape (both shapes named, and how they relate)",
    "nonfinite": "a NaN or an infinity in the result",
    "sign": "the negative of the truth",
    "scale": "a multiple of the truth (2, 1/2, a dim such as N, one over a dim, or another constant)",
    "transpose": "the truth transposed",
    "relu_mask": "the gradient with a ReLU's derivative left out or taken from the wrong tensor",
    "activation_derivative": "the gradient with another activation's derivative left out or wrong",
    "chain_rule": "the gradient with a term or a path of the chain rule left out",
    "mistake": "a mistake that the exercise names (its mistake models)",
    "precision": "right only to float32 precision, or close but not exact (a numerical approximation such as "
                 "finite differences)",
    "error": "the function raised an exception (the student's line is quoted), or returned what is not an array",
    "not_implemented": "the function raises NotImplementedError: not implemented yet (the template's stub)",
    "memory": "the submission ran out of memory",
    "forbidden": "the submission uses automatic differentiation or a forbidden module",
    "timeout": "the submission ran out of time, or one function ran past its share of it",
    "no_submission": "nothing in the submission's folder can be graded (the record lists what it held)",
}


@dataclass(frozen=True)
class Diagnosis:
    """What a failing target's numbers point to: a code from
    :data:`DIAGNOSIS_CODES` and a text for the student (lines separated by
    newlines: the mistake, what to revisit, the smallest failing case)."""

    code: str
    text: str

    def __post_init__(self):
        if self.code not in DIAGNOSIS_CODES:
            raise ValueError(f"unknown diagnosis code {self.code!r}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, str] | None) -> "Diagnosis | None":
        return None if d is None else cls(d["code"], d["text"])


@dataclass(frozen=True)
class TargetResult:
    """The grade of one target (``"w1"``): pass or fail, points, and why.

    ``cases`` and ``cases_passed`` count every case graded, the hidden ones
    (``hidden_cases``, ``hidden_passed``) included.
    """

    name: str
    passed: bool
    score: float
    max_score: float
    message: str
    diagnosis: Diagnosis | None = None
    cases: int = 0
    cases_passed: int = 0
    hidden_cases: int = 0
    hidden_passed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "score": self.score, "max_score": self.max_score,
                "message": self.message, "diagnosis": self.diagnosis and self.diagnosis.to_dict(),
                "cases": self.cases, "cases_passed": self.cases_passed,
                "hidden_cases": self.hidden_cases, "hidden_cases_passed": self.hidden_passed}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TargetResult":
        return cls(d["name"], d["passed"], d["score"], d["max_score"], d["message"],
                   Diagnosis.from_dict(d.get("diagnosis")), d.get("cases", 0), d.get("cases_passed", 0),
                   d.get("hidden_cases", 0), d.get("hidden_cases_passed", 0))

    @property
    def points(self) -> str:
        """``"score/max_score"``, as the tables show it (``"0/1"``)."""
        return f"{points_text(self.score)}/{points_text(self.max_score)}"

    @property
    def feedback(self) -> str:
        """The message, and the diagnosis after a blank line when it says more."""
        return self.message + (f"\n\n{self.details}" if self.details else "")

    @property
    def details(self) -> str:
        """The diagnosis, ``"code: text"``, when it says more than the message; else ``""``."""
        if self.diagnosis is None or self.diagnosis.text == self.message:
            return ""
        return f"{self.diagnosis.code}: {self.diagnosis.text}"


@dataclass(frozen=True)
class Report:
    """The result of grading one submission on one exercise.

    ``status`` is ``"ok"`` when the submission ran, else the word for what
    stopped it (``"error"``, ``"timeout"``, ``"memory"``, ``"forbidden"``,
    ``"no_submission"``), with ``message`` saying why. Every target of the exercise is in ``targets`` whatever the
    status. ``output`` is what the submission printed (cut to a few KB): it is
    kept out of the JSON record and the table, so that nothing a submission
    prints reaches the grader's stdout or its machine-readable outputs.
    ``notes`` say what of a notebook submission did not run, and why, and
    what the grader gave an older NumPy's meaning;
    ``isolation`` how the submission was isolated while it ran.
    """

    exercise: str
    submission: str
    status: str
    targets: tuple[TargetResult, ...]
    message: str = ""
    seed: int | None = None
    cases: int = 0
    hidden_cases: int = 0
    device: str = ""
    seconds: float = 0.0
    output: str = field(default="", repr=False)
    notes: tuple[str, ...] = ()
    isolation: str = ""

    @property
    def score(self) -> float:
        return sum(t.score for t in self.targets)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.targets)

    @property
    def points(self) -> str:
        """``"score/max_score"`` (``"3/5"``)."""
        return f"{points_text(self.score)}/{points_text(self.max_score)}"

    @property
    def passed(self) -> bool:
        """Every target passed."""
        return self.status == "ok" and all(t.passed for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "submission": self.submission, "status": self.status,
                "score": self.score, "max_score": self.max_score,
                "targets": [t.to_dict() for t in self.targets],
                "message": self.message, "seed": self.seed, "cases": self.cases,
                "hidden_cases": self.hidden_cases, "device": self.device,
                "seconds": round(self.seconds, 4), "notes": list(self.notes), "isolation": self.isolation}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Report":
        """The Report of a result record (what :meth:`to_dict` wrote; ``output`` is not in it)."""
        return cls(d["exercise"], d["submission"], d["status"],
                   tuple(TargetResult.from_dict(t) for t in d["targets"]), d.get("message", ""), d.get("seed"),
                   d.get("cases", 0), d.get("hidden_cases", 0), d.get("device", ""), d.get("seconds", 0.0),
                   notes=tuple(d.get("notes", ())), isolation=d.get("isolation", ""))

    @property
    def reasons(self) -> list[str]:
        """Why it lost points, a line each: ``"w1: wrong in 24 of 24 cases; ..."`` per failing target
        (the first line of its message), or the first line of its own message where it did not run."""
        failing = [f"{t.name}: {first_line(t.message)}" for t in self.targets if not t.passed]
        return [first_line(self.message)] if self.status != "ok" or not failing else failing

    @property
    def headline(self) -> str:
        """One line: exercise, submission, cases (how many hidden), device."""
        hidden = f", {self.hidden_cases} of them hidden" if self.hidden_cases else ""
        return (f"bpgrade {self.exercise}: {self.submission}, {self.cases} cases (seed {self.seed}{hidden}) "
                f"on {self.device}")

    def to_text(self, width: int | None = None) -> str:
        """The table a student reads at a glance: target, result, points, reason.
        A reason said already (a syntax error, a shared helper failing) is said once:
        the next targets it applies to read ``same as w1``."""
        width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
        said: dict[tuple[str, str], str] = {}
        if self.status != "ok":
            said[(self.message, "")] = "the status above"
        rows, details = [("target", "result", "points", "reason")], [""]
        for t in self.targets:
            key = (t.message, t.details)
            again = said.setdefault(key, t.name) != t.name
            rows.append((t.name, "pass" if t.passed else "FAIL", t.points, f"same as {said[key]}" if again
                         else t.message))
            details.append("" if again else t.details)
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        indent = sum(widths) + 3 * 2
        lines = [self.headline]
        if self.status != "ok":
            lines.append(f"status: {self.status}: {self.message}")
        text_width = max(width - indent, 30)
        for r, more_text in zip(rows, details):
            head = "  ".join(c.ljust(w) for c, w in zip(r[:3], widths))
            wrapped = textwrap.wrap(r[3], text_width) or [""]
            lines.append(f"{head}  {wrapped[0]}".rstrip())
            lines.extend(" " * indent + more for more in wrapped[1:])
            # The mistake's paragraph and the case's heading are wrapped; the values keep their layout.
            for line in more_text.split("\n") if more_text else ():
                shown = [line] if line.startswith(" ") else textwrap.wrap(line, text_width)
                lines.extend(" " * indent + part for part in shown)
        lines.append(f"score {self.points}")
        if self.notes:
            lines.append("notes:")
            lines.extend(textwrap.fill(note, width, initial_indent="  ", subsequent_indent="    ")
                         for note in self.notes)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown (a CI job's summary, a pull request comment):
        a heading with the score, the table, and each diagnosis in a fold."""
        mark = "✅" if self.passed else "❌"
        lines = [f"### {mark} bpgrade {markdown_text(self.exercise)}: {markdown_text(self.submission)}: "
                 f"{self.points}", "", markdown_text(self.headline)]
        if self.status != "ok":
            lines += ["", f"**{self.status}**: {markdown_text(self.message)}"]
        lines += ["", "| target | result | points | reason |", "|---|---|---|---|"]
        lines += [f"| {markdown_text(t.name)} | {'✅ pass' if t.passed else '❌ FAIL'} | {t.points} "
                  f"| {markdown_text(t.message)} |" for t in self.targets]
        for t in self.targets:
            if t.details:
                # A fence longer than any run of backticks in the text keeps the case block's
                # columns, and nothing in the text can close it early.
                fence = "`" * max(3, 1 + max(map(len, re.findall("`+", t.details)), default=0))
                lines += ["", f"<details><summary>{html.escape(t.name)}: {html.escape(t.diagnosis.code)}</summary>",
                          "", fence + "text", t.details, fence, "", "</details>"]
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {markdown_text(note)}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML table (no scripts, no outside resources), as Jupyter shows a Report."""
        e = html.escape
        rows = []
        for t in self.targets:
            colour = "#1a7f37" if t.passed else "#cf222e"
            details = (f"<details><summary>{e(t.diagnosis.code)}</summary><pre>{e(t.details)}</pre></details>"
                       if t.details else "")
            rows.append(f"<tr><td>{e(t.name)}</td><td style=\"color:{colour};font-weight:bold\">"
                        f"{'pass' if t.passed else 'FAIL'}</td><td>{t.points}</td>"
                        f"<td style=\"text-align:left\">{e(t.message)}{details}</td></tr>")
        status = "" if self.status == "ok" else f"<p><b>{e(self.status)}</b>: {e(self.message)}</p>"
        notes = "".join(f"<li>{e(note)}</li>" for note in self.notes)
        return (f"<div class=\"bpgrade-report\"><p>{e(self.headline)}</p>{status}"
                "<table><thead><tr><th>target</th><th>result</th><th>points</th><th>reason</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
                f"<p><b>score {self.points}</b></p>" + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")
                + "</div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()


def target_names(reports: Sequence[Report]) -> list[str]:
    """Every target name of ``reports``, each once, in the order they first appear."""
    names: list[str] = []
    for r in reports:
        names += [t.name for t in r.targets if t.name not in names]
    return names


def first_line(text: str) -> str:
    """The first line of a message (its first part, for tables and spreadsheets)."""
    return text.strip().split("\n", 1)[0]


def points_text(x: float) -> str:
    return f"{x:g}"


def markdown_text(text: str) -> str:
    """Text for a Markdown line or table cell: no pipe or line break ends the
    cell, and the submission's words make no HTML, links or emphasis."""
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text).replace("\n", "<br>")
