"""Comparing what a submission returned for one target against the truth.

The checks run in this order, and the first that fails decides the message:
the function exists; every result has the target's exact shape; no call
raised; every value is finite; every value is within tolerance.

Tolerance policy (float64): case ``i`` passes when

    max |got - expected|  <=  atol + rtol * max |expected|

with both maxima over the entries of the target in that case. The right-hand
side scales with the gradient, so that any correct formulation (loops, einsum,
another summation order: about 1e-15 relative) passes with margin to spare at
the default ``rtol = 1e-9``, while any wrong formula, which is off by a fraction
of the gradient's own size, fails. ``atol`` only keeps the bound positive: the
cases never hold an all-zero gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .cases import Case
from .packs import Pack, Target, Tolerance
from .reports import Diagnosis, TargetResult
from .runner import TargetRun

_LOW_PRECISION = ("float32", "float16")


@dataclass(frozen=True)
class Expected:
    """The true gradient of one target in every case, laid out for fast comparison.

    ``arrays[i]`` is case ``i``'s gradient (float64, the target's shape);
    ``flat`` holds them all raveled end to end, case ``i`` starting at
    ``starts[i]``; ``scale[i]`` is ``max |arrays[i]|``. Built once per batch.
    """

    arrays: tuple[np.ndarray, ...]
    flat: np.ndarray
    starts: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, arrays: Sequence[np.ndarray]) -> "Expected":
        flat = np.concatenate([a.ravel() for a in arrays])
        starts = np.cumsum([0] + [a.size for a in arrays[:-1]])
        return cls(tuple(arrays), flat, starts, np.maximum.reduceat(np.abs(flat), starts))


def compare_target(pack: Pack, target: Target, cases: Sequence[Case], expected: Expected,
                   run: TargetRun) -> TargetResult:
    """Grade one target.

    Args:
      pack: the exercise.
      target: the target graded.
      cases: the cases, in order.
      expected: the true gradient in every case.
      run: what the submission's function returned.
    """
    n = len(cases)

    def fail(code: str, message: str, passed_cases: int = 0) -> TargetResult:
        return TargetResult(target.name, False, 0.0, target.points, message, Diagnosis(code, message), n,
                            passed_cases)

    if run.missing:
        return fail("missing", f"{target.function} is not defined")
    for case, exp, got in zip(cases, expected.arrays, run.outputs):
        if got.shape != exp.shape:
            symbolic = ", ".join(map(str, pack.shape_of(target.name)))
            return fail("shape", f"{target.function} returned shape {got.shape}, expected ({symbolic}) = "
                        f"{exp.shape} in {case.describe()}")
    if run.error is not None:
        where = cases[run.error_case].describe() if run.error_case is not None else "a case"
        return fail("memory" if run.memory else "error", f"{run.error} in {where}")
    if len(run.outputs) != n:
        return fail("error", f"{target.function} returned results for {len(run.outputs)} of {n} cases")
    got = np.concatenate([g.ravel() for g in run.outputs])
    if not np.isfinite(got).all():
        for case, g in zip(cases, run.outputs):
            bad = np.argwhere(~np.isfinite(g))
            if len(bad):
                index = tuple(int(i) for i in bad[0])
                return fail("nonfinite", f"{_element(target.name, index)} is {g[index]} in {case.describe()}")
    return _compare_values(target, cases, expected, run, got, pack.tolerance)


def _compare_values(target: Target, cases: Sequence[Case], expected: Expected, run: TargetRun, got: np.ndarray,
                    tol: Tolerance) -> TargetResult:
    n = len(cases)
    abs_errors = np.maximum.reduceat(np.abs(got - expected.flat), expected.starts)
    ratios = abs_errors / (tol.atol + tol.rtol * expected.scale)
    with np.errstate(divide="ignore"):
        rel_errors = abs_errors / expected.scale
    failing = np.flatnonzero(ratios > 1.0)
    summary = f"max abs error {abs_errors.max():.2g}, max rel error {rel_errors.max():.2g}"
    if not len(failing):
        return TargetResult(target.name, True, target.points, target.points,
                            f"{n} cases within tolerance ({summary})", None, n, n)
    worst = int(failing[np.argmax(ratios[failing])])
    exp, out = expected.arrays[worst], run.outputs[worst]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(out - exp)), exp.shape))
    message = (f"wrong in {len(failing)} of {n} cases; worst: {_element(target.name, index)} in "
               f"{cases[worst].describe()}: expected {exp[index]:.6g}, got {out[index]:.6g} "
               f"(abs error {abs_errors[worst]:.2g}, rel error {rel_errors[worst]:.2g}; {summary}; "
               f"tolerance {tol.rtol:g} relative)")
    if any(d in _LOW_PRECISION for d in run.dtypes):
        message += "; some results were returned in float32 or float16: compute in float64"
    return TargetResult(target.name, False, 0.0, target.points, message, None, n, n - len(failing))


def _element(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name
