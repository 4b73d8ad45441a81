"""The gradebook: a SQLite database of results, written as each submission finishes.

One row per (exercise, seed, submission) in ``submissions`` (with what the
submission printed, kept out of the exports) and one per target in
``targets``, both written in one transaction, so that a grader killed in
mid-batch leaves every finished submission with exactly one result and no
half-written one. A submission is graded again only when its content, the
pack or the seed changed (or when asked to). :mod:`bpgrade.exports` writes
what :meth:`Gradebook.reports` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

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
CREATE TABLE IF NOT EXISTS code (
    exercise TEXT NOT NULL, seed INTEGER NOT NULL, submission TEXT NOT NULL, units TEXT NOT NULL,
    PRIMARY KEY (exercise, seed, submission));
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

    def record(self, report: Report, *, pack_hash: str, content_hash: str, path: str,
               code: Mapping[str, Any] | None = None) -> None:
        """Store one submission's result, replacing any earlier one, atomically; ``code``: its graded
        code as read (:func:`bpgrade.grader.graded_code`), for finding similar submissions."""
        key = (report.exercise, report.seed, report.submission)
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM targets WHERE exercise = ? AND seed = ? AND submission = ?", key)
            db.execute("DELETE FROM code WHERE exercise = ? AND seed = ? AND submission = ?", key)
            if code:
                db.execute("INSERT INTO code VALUES (?, ?, ?, ?)", (*key, json.dumps(code)))
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

    def reports(self, exercise: str | None = None, seed: int | None = None,
                submissions: Sequence[str] | None = None) -> list[Report]:
        """The stored results, in the order of ``submissions`` when given, else
        by exercise, seed and id. Their ``output`` is what the submission printed."""
        query, args = "SELECT submission, record, output FROM submissions WHERE 1", []
        for column, value in (("exercise", exercise), ("seed", seed)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        rows = self.db.execute(query + " ORDER BY exercise, seed, submission", args).fetchall()
        if submissions is not None:
            by_id = {row[0]: row for row in rows}
            rows = [by_id[s] for s in submissions if s in by_id]
        return [dataclasses.replace(Report.from_dict(json.loads(record)), output=output) for _, record, output in rows]

    def code(self, exercise: str | None = None, seed: int | None = None) -> dict[tuple[str, int], dict]:
        """The graded code of each submission (:func:`bpgrade.grader.graded_code`), by ``(exercise, seed)``
        then submission id."""
        query, args = "SELECT exercise, seed, submission, units FROM code WHERE 1", []
        for column, value in (("exercise", exercise), ("seed", seed)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        found: dict[tuple[str, int], dict] = {}
        for ex, sd, sub, units in self.db.execute(query + " ORDER BY exercise, seed, submission", args):
            found.setdefault((ex, sd), {})[sub] = json.loads(units)
        return found

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
            # A gradebook written before the code table has none to copy.
            has_code = db.execute("SELECT 1 FROM other.sqlite_master WHERE type = 'table' AND name = 'code'"
                                  ).fetchone() is not None
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
                db.execute("DELETE FROM main.code WHERE exercise = ? AND seed = ? AND submission = ?", key)
                if has_code:
                    db.execute("INSERT INTO main.code SELECT * FROM other.code "
                               "WHERE exercise = ? AND seed = ? AND submission = ?", key)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            db.execute("ROLLBACK")
            raise BpgradeError(f"{other}: not a bpgrade gradebook ({e})") from None
        finally:
            db.execute("DETACH DATABASE other")
        return len(keys)
