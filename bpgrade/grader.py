"""Grading one submission: cases, truth, run, comparison, report."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from . import truth
from .cases import generate_cases
from .compare import compare_target
from .errors import SubmissionError
from .packs import Pack, load_pack
from .reports import Diagnosis, Report, TargetResult
from .runner import Job, Limits, RunResult, run_functions
from .sandbox import run_file

Submission = str | Path | Mapping[str, Callable]


def check(exercise: str | Path | Pack, submission: Submission, *, seed: int | None = None,
          device: str | None = None, timeout: float | None = None) -> Report:
    """Grade a submission on an exercise.

    Args:
      exercise: a shipped pack's name (``"mlp2"``), a pack folder, or a Pack.
      submission: the path of a ``.py`` file, or a dict of functions keyed by
        target (``"w1"``) or function name (``"grad_w1"``), called in this
        process.
      seed: the case set; the pack's public cases when None.
      device: ``"cpu"``, ``"gpu"`` or ``"tpu"`` for the truth; JAX's default
        backend when None.
      timeout: seconds of wall-clock time for a file submission; the pack's
        when None.

    Returns:
      The :class:`~bpgrade.reports.Report`; ``print`` it for the table.

    Raises:
      BpgradeError: a bad pack, a submission path that is not a readable
        ``.py`` file, or a device that is not there.
    """
    pack = exercise if isinstance(exercise, Pack) else load_pack(exercise)
    if isinstance(submission, Mapping):
        name = "functions"
    else:
        path = Path(submission)
        if not path.is_file():
            raise SubmissionError(f"{path}: no such file")
        if path.suffix != ".py":
            raise SubmissionError(f"{path}: expected a Python file (.py)")
        name = path.stem
    dev = truth.select_device(device)
    cases = generate_cases(pack, seed)
    expected = truth.gradients(pack.network, [t.name for t in pack.targets], cases, dev)
    job = Job.for_pack(pack, cases, Limits.for_pack(pack, timeout))
    run = run_functions(submission, job) if isinstance(submission, Mapping) else run_file(path, job)
    return Report(
        exercise=pack.name,
        submission=name,
        status=run.status,
        targets=_grade_targets(pack, cases, expected, run),
        message=run.message,
        seed=cases[0].seed,
        cases=len(cases),
        device=f"{dev.platform}",
        seconds=run.seconds,
        output=run.output,
    )


def _grade_targets(pack: Pack, cases, expected, run: RunResult) -> tuple[TargetResult, ...]:
    if run.status != "ok":
        return tuple(TargetResult(t.name, False, 0.0, t.points, run.message, Diagnosis(run.status, run.message),
                                  len(cases), 0) for t in pack.targets)
    return tuple(compare_target(pack, t, cases, [e[t.name] for e in expected], run.targets[t.name])
                 for t in pack.targets)
