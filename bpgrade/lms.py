"""Gradebook files that an LMS imports: Canvas, Moodle and Brightspace, matched to a roster.

The roster is the LMS's own gradebook export (CSV). A submission's id is matched to a student by
the roster's login or user id (``jdoe``, ``jdoe@uni.edu``, ``#jdoe``), its e-mail address or the
part before ``@``, its ID number, or the student's name (``doe_jane`` is "Doe, Jane": the same
words, in any order, case and punctuation aside). A submission that matches no student, or more
than one, and a student whom no submission matches, are listed, never guessed.

Each file is written as the LMS's own export writes it, so that its import takes it:

- Canvas: ``Student,ID,SIS User ID,SIS Login ID,Section,<Assignment>``, a ``Points Possible`` row,
  then a row per matched student (the assignment column is the roster's own, ``Backprop (123)``, when
  ``assignment`` names one; else a new one).
- Moodle: ``First name,Last name,ID number,Email address,<Assignment>`` (import identifying users by
  e-mail address or ID number).
- Brightspace: ``OrgDefinedId,Username,<Assignment> Points Grade,End-of-Line Indicator``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .errors import BpgradeError
from .reports import Report

LMS_FORMATS = ("canvas", "moodle", "brightspace")


@dataclass(frozen=True)
class _Layout:
    """Which roster columns identify a student, which name them, and the columns written."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    written: tuple[str, ...]


_LAYOUTS = {
    "canvas": _Layout(("SIS Login ID", "SIS User ID", "ID"), ("Student",),
                      ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")),
    "moodle": _Layout(("Email address", "ID number", "Username"), ("First name", "Last name"),
                      ("First name", "Last name", "ID number", "Email address")),
    "brightspace": _Layout(("Username", "OrgDefinedId", "Email"), ("First Name", "Last Name"),
                           ("OrgDefinedId", "Username")),
}


@dataclass(frozen=True)
class LmsFile:
    """An LMS import file's ``text``, the submissions it could not place (``unmatched``: id and
    why) and the roster's students without a submission (``missing``)."""

    text: str
    unmatched: tuple[str, ...]
    missing: tuple[str, ...]


def read_roster(path: str | Path) -> list[dict[str, str]]:
    """The rows of an LMS gradebook export.

    Raises:
      BpgradeError: the file cannot be read, or holds no rows.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise BpgradeError(f"cannot read the roster {path}: {getattr(e, 'strerror', None) or e}") from None
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
    if not rows:
        raise BpgradeError(f"the roster {path} holds no students (expected the LMS's gradebook export, as CSV)")
    return rows


def lms_file(reports: Sequence[Report], fmt: str, roster: Sequence[Mapping[str, str]],
             assignment: str | None = None) -> LmsFile:
    """The import file of ``fmt`` (one of :data:`LMS_FORMATS`) for ``reports``' scores.

    Raises:
      BpgradeError: a roster without the columns that identify students in that LMS.
    """
    layout = _LAYOUTS[fmt]
    students = [row for row in roster if not row.get(layout.written[0], "").strip().startswith("Points Possible")]
    if not students or not any(column in students[0] for column in layout.ids):
        raise BpgradeError(f"the roster is not a {fmt} gradebook export: it has no students with any of the "
                           f"columns {', '.join(layout.ids)}")
    title = assignment or (reports[0].exercise if reports else "bpgrade")
    keys = [_keys(student, layout) for student in students]
    placed: dict[int, Report] = {}
    unmatched = []
    for report in reports:
        wanted = _words(report.submission) or None
        found = [i for i, (ids, name) in enumerate(keys) if report.submission.lower() in ids or wanted == name]
        if len(found) != 1:
            why = "no student of the roster" if not found else f"{len(found)} students of the roster"
            unmatched.append(f"{report.submission} ({why})")
        elif found[0] in placed:
            unmatched.append(f"{report.submission} (the same student as {placed[found[0]].submission})")
        else:
            placed[found[0]] = report
    missing = tuple(_named(students[i], layout) for i in range(len(students)) if i not in placed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    column = _column(fmt, title, students[0] if students else {})
    writer.writerow([*layout.written, column, *(["End-of-Line Indicator"] if fmt == "brightspace" else [])])
    if fmt == "canvas":
        points = max((r.max_score for r in reports), default=0.0)
        writer.writerow(["    Points Possible", *[""] * (len(layout.written) - 1), f"{points:g}"])
    for i in sorted(placed):
        row = [students[i].get(name, "") for name in layout.written] + [f"{placed[i].score:g}"]
        writer.writerow(row + (["#"] if fmt == "brightspace" else []))
    return LmsFile(out.getvalue(), tuple(unmatched), missing)


def _column(fmt: str, title: str, example: Mapping[str, str]) -> str:
    """The grade column: Canvas's own for that assignment where the roster has it (``Backprop (123)``)."""
    if fmt == "brightspace":
        return f"{title} Points Grade"
    if fmt == "canvas":
        for name in example:
            if name == title or re.fullmatch(rf"{re.escape(title)} \(\d+\)", name):
                return name
    return title


def _keys(student: Mapping[str, str], layout: _Layout) -> tuple[set[str], frozenset[str]]:
    """What a submission id may be for this student: ids (lower case, an e-mail's local part too,
    Brightspace's leading # gone), and the words of the name."""
    ids = set()
    for column in layout.ids:
        value = student.get(column, "").strip().lower().lstrip("#")
        if value:
            ids |= {value, value.partition("@")[0]}
    return ids, _words(" ".join(student.get(c, "") for c in layout.names))


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[^\W_]+", text.lower()))


def _named(student: Mapping[str, str], layout: _Layout) -> str:
    name = " ".join(student.get(c, "") for c in layout.names).strip()
    ident = next((student[c] for c in layout.ids if student.get(c)), "")
    return f"{name} ({ident})" if name and ident else name or ident
