"""The gradebook: a SQLite database of results, written as each submission finishes.

One row per (exercise, seed, submission) in ``submissions`` (with what the
submission printed, kept out of the exports) and one per target in
``targets``, both written in one transaction, so that a grader killed in
mid-batch leaves every finished submission with exactly one result and no
half-written one. A submission is graded again only when its content, the
pack or the seed changed (or when asked to). The ``jsonl``, ``csv`` and
``junit`` outputs are exports of these rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable, Sequence

from .errors import BpgradeError
from .reports import Report

DEFAULT_PATH = "gradebook.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    exercise TEXT NOT NULL, seed INTEGER NOT NULL, submission TEXT NOT NULL,
    pack_hash TEXT NOT NULL, content_hash TEXT NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    graded_at REAL NOT NULL, record TEXT NOT NULL, output TEXT NOT NULL,
    PRIMARY KEY (exercise, seed, submission));
CREATE TABLE IF NOT EXISTS targets (
    exercise TEXT NOT NULL, seed INTEGER NOT NULL, submission TEXT NOT NULL,
    position INTEGER NOT NULL, name TEXT NOT NULL, passed INTEGER NOT NULL,
    score REAL NOT NULL, max_score REAL NOT NULL, message TEXT NOT NULL,
    diagnosis_code TEXT, diagnosis_text TEXT,
    PRIMARY KEY (exercise, seed, submission, name));
"""


class Gradebook:
    """A gradebook file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            # WAL without a sync per commit: a killed grader loses nothing it
            # committed, at a fraction of a millisecond per submission.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise BpgradeError(f"{self.path}: not a bpgrade gradebook ({e})") from None

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def graded(self, exercise: str, seed: int, pack_hash: str) -> dict[str, str]:
        """``{submission id: content hash}`` of what is already graded with this pack and seed."""
        rows = self.db.execute("SELECT submission, content_hash FROM submissions "
                               "WHERE exercise = ? AND seed = ? AND pack_hash = ?", (exercise, seed, pack_hash))
        return dict(rows.fetchall())

    def record(self, report: Report, *, pack_hash: str, content_hash: str, path: str) -> None:
        """Store one submission's result, replacing any earlier one, atomically."""
        key = (report.exercise, report.seed, report.submission)
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM targets WHERE exercise = ? AND seed = ? AND submission = ?", key)
            db.execute("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*key, pack_hash, content_hash, path, report.status, report.score, report.max_score,
                        time.time(), report.to_json(), report.output))
            db.executemany("INSERT INTO targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(*key, i, t.name, int(t.passed), t.score, t.max_score, t.message,
                             t.diagnosis and t.diagnosis.code, t.diagnosis and t.diagnosis.text)
                            for i, t in enumerate(report.targets)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def records(self, exercise: str | None = None, seed: int | None = None,
                submissions: Sequence[str] | None = None) -> list[dict]:
        """The stored result records (the JSON of SPEC.md), in the order of
        ``submissions`` when given, else by exercise, seed and id."""
        query, args = "SELECT submission, record FROM submissions WHERE 1", []
        for column, value in (("exercise", exercise), ("seed", seed)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        rows = self.db.execute(query + " ORDER BY exercise, seed, submission", args).fetchall()
        if submissions is None:
            return [json.loads(record) for _, record in rows]
        by_id = {sid: record for sid, record in rows}
        return [json.loads(by_id[s]) for s in submissions if s in by_id]

    def merge(self, other: str | Path) -> int:
        """Copy in the results of another gradebook; where both hold a submission,
        the later result wins. Returns how many submissions were copied."""
        other = Path(other)
        if not other.is_file():
            raise BpgradeError(f"{other}: no such gradebook")
        db = self.db
        try:
            db.execute("ATTACH DATABASE ? AS other", (str(other),))
        except sqlite3.DatabaseError as e:
            raise BpgradeError(f"{other}: not a bpgrade gradebook ({e})") from None
        try:
            db.execute("BEGIN")
            newer = """SELECT o.exercise, o.seed, o.submission FROM other.submissions o
                       LEFT JOIN main.submissions m USING (exercise, seed, submission)
                       WHERE m.graded_at IS NULL OR o.graded_at > m.graded_at"""
            keys = db.execute(newer).fetchall()
            for key in keys:
                db.execute("DELETE FROM main.targets WHERE exercise = ? AND seed = ? AND submission = ?", key)
                db.execute("INSERT OR REPLACE INTO main.submissions SELECT * FROM other.submissions "
                           "WHERE exercise = ? AND seed = ? AND submission = ?", key)
                db.execute("INSERT INTO main.targets SELECT * FROM other.targets "
                           "WHERE exercise = ? AND seed = ? AND submission = ?", key)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            db.execute("ROLLBACK")
            raise BpgradeError(f"{other}: not a bpgrade gradebook ({e})") from None
        finally:
            db.execute("DETACH DATABASE other")
        return len(keys)


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line."""
    return "".join(json.dumps(r) + "\n" for r in records)


def to_csv(records: Sequence[dict]) -> str:
    """One row per submission: its id, status, a column per target's score, the total and the maximum."""
    names: list[str] = []
    for r in records:
        names += [t["name"] for t in r["targets"] if t["name"] not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "exercise", "status", *names, "score", "max_score"])
    for r in records:
        scores = {t["name"]: t["score"] for t in r["targets"]}
        writer.writerow([r["submission"], r["exercise"], r["status"], *(f"{scores.get(n, '')}" for n in names),
                         r["score"], r["max_score"]])
    return out.getvalue()


#: Characters that XML 1.0 cannot hold (a submission's error message may carry them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_junit(records: Sequence[dict]) -> str:
    """JUnit XML for CI (Jenkins, GitLab, GitHub): a testsuite per submission and a
    testcase per target. A wrong target is a ``failure`` whose type is its
    diagnosis code (``wrong`` when none fits) and whose text is the message
    and the diagnosis; a submission that did not run makes every target an
    ``error`` of its status (``timeout``, ``forbidden``, ...)."""
    def clean(text: str) -> str:
        return _NOT_XML.sub("?", text)

    suites = ET.Element("testsuites", name="bpgrade")
    total = failures = errors = 0
    for r in records:
        ran = r["status"] == "ok"
        wrong = [t for t in r["targets"] if not t["passed"]]
        suite = ET.SubElement(suites, "testsuite", name=clean(f"{r['exercise']}: {r['submission']}"),
                              tests=str(len(r["targets"])), failures=str(len(wrong) if ran else 0),
                              errors=str(0 if ran else len(wrong)), time=f"{r.get('seconds', 0):.3f}")
        total += len(r["targets"])
        failures += len(wrong) if ran else 0
        errors += 0 if ran else len(wrong)
        for t in r["targets"]:
            case = ET.SubElement(suite, "testcase", classname=clean(f"{r['exercise']}.{r['submission']}"),
                                 name=clean(t["name"]))
            if t["passed"]:
                continue
            diagnosis = t.get("diagnosis") or {}
            kind = diagnosis.get("code", "wrong") if ran else r["status"]
            body = t["message"] + (f"\n\n{diagnosis['text']}" if diagnosis.get("text") not in (None, t["message"])
                                   else "")
            element = ET.SubElement(case, "failure" if ran else "error", message=clean(t["message"]), type=kind)
            element.text = clean(body)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
