"""Grading results and how they are written out: the JSON record and the text table.

:class:`Report` is the result record of SPEC.md. Nothing here prints: the
command line writes what these functions return.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass, field
from typing import Any

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
    "error": "the function raised an exception (the student's line is quoted)",
    "memory": "the submission ran out of memory",
    "forbidden": "the submission uses automatic differentiation or a forbidden module",
    "timeout": "the submission ran out of time",
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


@dataclass(frozen=True)
class Report:
    """The result of grading one submission on one exercise.

    ``status`` is ``"ok"`` when the submission ran, else the word for what
    stopped it (``"error"``, ``"timeout"``, ``"memory"``, ``"forbidden"``), with ``message``
    saying why. Every target of the exercise is in ``targets`` whatever the
    status. ``output`` is what the submission printed (cut to a few KB): it is
    kept out of the JSON record and the table, so that nothing a submission
    prints reaches the grader's stdout or its machine-readable outputs.
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

    @property
    def score(self) -> float:
        return sum(t.score for t in self.targets)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.targets)

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
                "seconds": round(self.seconds, 4)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_text(self, width: int | None = None) -> str:
        """The table a student reads at a glance: target, result, points, reason."""
        width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
        rows = [("target", "result", "points", "reason")]
        for t in self.targets:
            rows.append((t.name, "pass" if t.passed else "FAIL", f"{_num(t.score)}/{_num(t.max_score)}", t.message))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        indent = sum(widths) + 3 * 2
        hidden = f", {self.hidden_cases} of them hidden" if self.hidden_cases else ""
        lines = [f"bpgrade {self.exercise}: {self.submission}, {self.cases} cases (seed {self.seed}{hidden}) "
                 f"on {self.device}"]
        if self.status != "ok":
            lines.append(f"status: {self.status}: {self.message}")
        text_width = max(width - indent, 30)
        for r, t in zip(rows, (None, *self.targets)):
            head = "  ".join(c.ljust(w) for c, w in zip(r[:3], widths))
            wrapped = textwrap.wrap(r[3], text_width) or [""]
            lines.append(f"{head}  {wrapped[0]}".rstrip())
            lines.extend(" " * indent + more for more in wrapped[1:])
            if t is not None and t.diagnosis is not None and t.diagnosis.text != t.message:
                # The mistake's paragraph is wrapped; the case block keeps its layout.
                first, *block = t.diagnosis.text.split("\n")
                lines.extend(" " * indent + more for more in textwrap.wrap(f"{t.diagnosis.code}: {first}", text_width))
                lines.extend(" " * indent + more for more in block)
        lines.append(f"score {_num(self.score)}/{_num(self.max_score)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _num(x: float) -> str:
    return f"{x:g}"
