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

from typing import Sequence

import numpy as np

from .cases import Case
from .packs import Pack, Target, Tolerance
from .reports import Diagnosis, TargetResult
from .runner import TargetRun

_LOW_PRECISION = ("float32", "float16")


def compare_target(pack: Pack, target: Target, cases: Sequence[Case], expected: Sequence[np.ndarray],
                   run: TargetRun) -> TargetResult:
    """Grade one target.

    Args:
      pack: the exercise.
      target: the target graded.
      cases: the cases, in order.
      expected: the true gradient for each case, float64, the target's shape.
      run: what the submission's function returned.
    """
    n = len(cases)

    def fail(code: str, message: str, passed_cases: int = 0) -> TargetResult:
        return TargetResult(target.name, False, 0.0, target.points, message, Diagnosis(code, message), n,
                            passed_cases)

    if run.missing:
        return fail("missing", f"{target.function} is not defined")
    for case, exp, got in zip(cases, expected, run.outputs):
        if got.shape != exp.shape:
            symbolic = ", ".join(map(str, pack.shape_of(target.name)))
            return fail("shape", f"{target.function} returned shape {got.shape}, expected ({symbolic}) = "
                        f"{exp.shape} in {case.describe()}")
    if run.error is not None:
        where = cases[run.error_case].describe() if run.error_case is not None else "a case"
        return fail("error", f"{run.error} in {where}")
    if len(run.outputs) != n:
        return fail("error", f"{target.function} returned results for {len(run.outputs)} of {n} cases")
    for case, got in zip(cases, run.outputs):
        bad = np.argwhere(~np.isfinite(got))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            return fail("nonfinite", f"{_element(target.name, index)} is {got[index]} in {case.describe()}")
    return _compare_values(target, cases, expected, run, pack.tolerance)


def _compare_values(target: Target, cases: Sequence[Case], expected: Sequence[np.ndarray], run: TargetRun,
                    tol: Tolerance) -> TargetResult:
    n = len(cases)
    ratios, abs_errors, rel_errors = [], [], []
    for exp, got in zip(expected, run.outputs):
        err = np.abs(got - exp)
        scale = float(np.abs(exp).max(initial=0.0))
        ratios.append(float(err.max(initial=0.0)) / (tol.atol + tol.rtol * scale))
        abs_errors.append(float(err.max(initial=0.0)))
        rel_errors.append(abs_errors[-1] / scale if scale else float("inf"))
    failing = [i for i, r in enumerate(ratios) if r > 1.0]
    summary = f"max abs error {max(abs_errors):.2g}, max rel error {max(rel_errors):.2g}"
    if not failing:
        return TargetResult(target.name, True, target.points, target.points,
                            f"{n} cases within tolerance ({summary})", None, n, n)
    worst = max(failing, key=ratios.__getitem__)
    exp, got = expected[worst], run.outputs[worst]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(got - exp)), exp.shape))
    message = (f"wrong in {len(failing)} of {n} cases; worst: {_element(target.name, index)} in "
               f"{cases[worst].describe()}: expected {exp[index]:.6g}, got {got[index]:.6g} "
               f"(abs error {abs_errors[worst]:.2g}, rel error {rel_errors[worst]:.2g}; {summary}; "
               f"tolerance {tol.rtol:g} relative)")
    if any(d in _LOW_PRECISION for d in run.dtypes):
        message += "; some results were returned in float32 or float16: compute in float64"
    return TargetResult(target.name, False, 0.0, target.points, message, None, n, n - len(failing))


def _element(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name
