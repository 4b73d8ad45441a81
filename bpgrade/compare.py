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

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _calls
from ._calls import RETURN_KIND, TIMEOUT_KIND
from .cases import Case
from .diagnosis import Diagnoser
from .packs import Pack, Target, Tolerance
from .reports import Diagnosis, TargetResult
from .runner import SHOWN_KINDS, TargetRun

_LOW_PRECISION = ("float32", "float16")
#: A failing result within this of the truth (relative to the largest entry of its case) is right
#: only to float32 precision, or an approximation: the diagnosis ``precision``, and no other.
PRECISION_RTOL = 1e-5


@dataclass(frozen=True)
class Expected:
    """The true gradient of one leaf of a target in the cases that hold it,
    laid out for fast comparison.

    ``path`` is the leaf's place in the target (``""`` for a plain array,
    ``"[2].w"`` in a list of layers); ``cases`` the indices of the cases that
    hold it (all of them, unless the structure varies with the dims);
    ``arrays[j]`` the gradient in case ``cases[j]`` (float64); ``flat`` holds
    them all raveled end to end, ``arrays[j]`` starting at ``starts[j]``;
    ``scale[j]`` is ``max |arrays[j]|``. Built once per batch.
    """

    path: str
    cases: tuple[int, ...]
    arrays: tuple[np.ndarray, ...]
    flat: np.ndarray
    starts: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, arrays: Sequence[np.ndarray], path: str = "", cases: Sequence[int] | None = None) -> "Expected":
        flat = np.concatenate([a.ravel() for a in arrays])
        starts = np.cumsum([0] + [a.size for a in arrays[:-1]])
        return cls(path, tuple(range(len(arrays)) if cases is None else cases), tuple(arrays), flat, starts,
                   np.maximum.reduceat(np.abs(flat), starts))

    @classmethod
    def leaves(cls, truths: Sequence[Any]) -> list["Expected"]:
        """One Expected per leaf of a target, from its truth in every case (an
        array or a nest of them), in the order the leaves first appear."""
        found: dict[str, list[tuple[int, np.ndarray]]] = {}
        for i, tree in enumerate(truths):
            for path, leaf in _calls.leaves(tree):
                found.setdefault(path, []).append((i, np.asarray(leaf)))
        return [cls.of([a for _, a in held], path, [i for i, _ in held]) for path, held in found.items()]


def compare_target(pack: Pack, target: Target, cases: Sequence[Case], expected: Sequence[Expected],
                   run: TargetRun, diagnoser: Diagnoser) -> list[TargetResult]:
    """Grade one target, leaf by leaf.

    Args:
      pack: the exercise.
      target: the target graded.
      cases: the cases, in order.
      expected: the true gradient, one per leaf (:meth:`Expected.leaves`).
      run: what the submission's function returned.
      diagnoser: names the mistake behind a failing leaf.

    Returns:
      One result per leaf, named by the target and the leaf's path
      (``"layers[2].w"``), each worth an equal share of the target's points.
      Messages describe public cases only: of hidden ones they give counts.
    """
    points = target.points / len(expected)
    return [_compare_leaf(pack, target, cases, leaf, run, points, diagnoser) for leaf in expected]


def not_run(target: Target, cases: Sequence[Case], expected: Sequence[Expected], status: str,
            message: str) -> list[TargetResult]:
    """The results of a target, leaf by leaf, when the submission did not run
    (``status`` ``"error"``, ``"timeout"``, ...): no points, every case failed."""
    points = target.points / len(expected)
    return [TargetResult(target.name + leaf.path, False, 0.0, points, message, Diagnosis(status, message),
                         len(leaf.cases), 0, _hidden_count(cases, leaf.cases), 0)
            for leaf in expected]


def _hidden_count(cases: Sequence[Case], indices: Sequence[int]) -> int:
    return sum(cases[i].hidden for i in indices)


def _compare_leaf(pack: Pack, target: Target, cases: Sequence[Case], expected: Expected, run: TargetRun,
                  points: float, diagnoser: Diagnoser) -> TargetResult:
    name = target.name + expected.path
    n, n_hidden = len(expected.cases), _hidden_count(cases, expected.cases)

    def fail(message: str, diagnosis: Diagnosis) -> TargetResult:
        return TargetResult(name, False, 0.0, points, message, diagnosis, n, 0, n_hidden, 0)

    if not run.checked:
        return fail(f"not checked: {target.function} was not given", None)
    if run.missing:
        # With a harness, what is missing is what it read (run.error names it).
        return fail(f"{run.error or target.function} is not defined", diagnoser.missing(target, run.error))
    symbolic = pack.shape_of(target.of) if not expected.path else None
    shown_shape = _symbolic(symbolic) if symbolic else None
    got_all = [run.outputs[i].get(expected.path) if i < len(run.outputs) else None for i in expected.cases]
    reshaped = ""
    if target.shape == "squeeze":
        # Axes of size 1 dropped, the shapes agree: graded as the gradient's shape, with a note.
        for j, (exp, got) in enumerate(zip(expected.arrays, got_all)):
            if got is not None and got.shape != exp.shape and _squeezed(got.shape) == _squeezed(exp.shape):
                reshaped = reshaped or f"; its shape {got.shape} was taken as {exp.shape} (axes of size 1)"
                got_all[j] = got.reshape(exp.shape)
    ran = len(run.outputs)
    wrong_shape = any(i < ran and (got is None or got.shape != exp.shape)
                      for i, exp, got in zip(expected.cases, expected.arrays, got_all))
    # Public cases first: their shapes can be shown.
    for j in sorted(range(n), key=lambda j: cases[expected.cases[j]].hidden) if wrong_shape else ():
        i, exp, got = expected.cases[j], expected.arrays[j], got_all[j]
        if i >= len(run.outputs) or (got is not None and got.shape == exp.shape):
            continue
        diagnosis = diagnoser.shape(target, name, shown_shape or str(exp.shape), expected.cases, expected.arrays,
                                    got_all)
        if cases[i].hidden:
            wanted = f" (expected {shown_shape})" if shown_shape else ""
            return fail(f"{target.function} returned the wrong shape in a hidden case{wanted}", diagnosis)
        if got is None:
            return fail(f"{target.function} returned {_returned(run.outputs[i])}, expected "
                        f"{_returned({expected.path: exp})} in {cases[i].describe()}", diagnosis)
        expected_shape = (f"{shown_shape} = {exp.shape}" if shown_shape and shown_shape != str(exp.shape)
                          else f"{exp.shape}")
        what = f"{name} of shape" if expected.path else "shape"
        return fail(f"{target.function} returned {what} {got.shape}, expected {expected_shape} in "
                    f"{cases[i].describe()}", diagnosis)
    if run.error is not None:
        code = "memory" if run.memory else "error"
        if run.error_case is not None and cases[run.error_case].hidden:
            # What a submission says in a hidden case could carry the case's inputs: never shown.
            message = f"{target.function} {_failure(run, code)} in a hidden case"
            return fail(message, Diagnosis(code, f"{message}; hidden cases show no messages: make it work on "
                                                 "every shape and value the exercise allows."))
        where = cases[run.error_case].describe() if run.error_case is not None else "a case"
        if run.error_kind == "NotImplementedError":
            message = f"{target.function} is not implemented yet"
            return fail(message, Diagnosis("not_implemented", message))
        if run.error_kind == TIMEOUT_KIND:
            message = f"{target.function} {run.error} in {where}"
            return fail(message, Diagnosis("timeout", f"{message}: look for a loop that does not end, or work "
                                                      "that grows much faster than the inputs."))
        if run.error_kind == RETURN_KIND:
            wanted = (f"an array of shape {shown_shape}" if shown_shape else
                      "an array" if not expected.path else "the gradient's nest of arrays")
            message = f"in {where}, {target.function} {run.error}"
            said = run.error if run.error.endswith("?") else run.error + "."
            key = f"item {target.key}" if isinstance(target.key, int) else target.key
            what = f"{key} (d loss / d {target.of})" if target.call else f"d loss / d {target.of}"
            return fail(message, Diagnosis("error", f"{target.function} {said} It must return {what} as "
                                                    f"{wanted}."))
        case = None if run.error_case is None else cases[run.error_case]
        return fail(f"{run.error} in {where}", diagnoser.error(target, code, run.error, case))
    if len(run.outputs) != len(cases):
        message = f"{target.function} returned results for {len(run.outputs)} of {len(cases)} cases"
        return fail(message, Diagnosis("error", message))
    outputs = got_all
    got = np.concatenate([g.ravel() for g in outputs])
    if not np.isfinite(got).all():
        for i, g in sorted(zip(expected.cases, outputs), key=lambda pair: cases[pair[0]].hidden):
            bad = np.argwhere(~np.isfinite(g))
            if len(bad):
                index = tuple(int(k) for k in bad[0])
                value = "not finite" if cases[i].hidden else f"{g[index]}"
                message = f"{_element(name, index)} is {value} in {cases[i].describe()}"
                return fail(message, diagnoser.nonfinite(target, message))
    hidden = np.array([cases[i].hidden for i in expected.cases])

    def diagnose(failing: Sequence[int]) -> Diagnosis | None:
        return diagnoser.values(target, expected.path, expected.cases, expected.arrays, outputs, failing)

    result = _compare_values(target.function, name, points, cases, expected, outputs, run.dtypes, got,
                             pack.tolerance, hidden, diagnose)
    return dataclasses.replace(result, message=result.message + reshaped) if reshaped else result


def _failure(run: TargetRun, code: str) -> str:
    """What went wrong, in words the submission did not choose: ``raised ValueError``."""
    if code == "memory":
        return "ran out of memory"
    if run.error_kind == RETURN_KIND:
        return "returned what is not an array of numbers"
    if run.error_kind == TIMEOUT_KIND:
        return "ran past its share of the time limit"
    return f"raised {run.error_kind}" if run.error_kind in SHOWN_KINDS else "raised an exception"


def _returned(leaves: Mapping[str, np.ndarray]) -> str:
    """``an array of shape (3,)`` or ``[0], [1] (arrays of shapes (2,), (3,))``."""
    if "" in leaves:
        return f"an array of shape {leaves[''].shape}"
    paths = list(leaves)
    shown = ", ".join(paths[:6]) + (", ..." if len(paths) > 6 else "")
    return f"{len(paths)} arrays ({shown})" if paths else "an empty list or dict"


def _compare_values(function: str, name: str, points: float, cases: Sequence[Case], expected: Expected,
                    outputs: Sequence[np.ndarray], dtypes: Sequence[str], got: np.ndarray,
                    tol: Tolerance, hidden: np.ndarray,
                    diagnose: Callable[[Sequence[int]], Diagnosis | None]) -> TargetResult:
    n, n_hidden = len(expected.cases), int(hidden.sum())
    abs_errors = np.maximum.reduceat(np.abs(got - expected.flat), expected.starts)
    ratios = abs_errors / (tol.atol + tol.rtol * expected.scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A truth of zeros (a target that may be zero): exact zeros are no error at all.
        rel_errors = np.where(abs_errors == 0, 0.0, abs_errors / expected.scale)
    failing = np.flatnonzero(ratios > 1.0)
    shown = failing[~hidden[failing]]
    hidden_failed = len(failing) - len(shown)
    public = ~hidden
    summary = f"max abs error {abs_errors[public].max():.2g}" if public.any() else ""
    # A truth of zeros has no relative error.
    relative = public & (expected.scale > 0)
    if relative.any():
        summary += f", max rel error {rel_errors[relative].max():.2g}"

    def result(passed: bool, message: str, diagnosis: Diagnosis | None = None) -> TargetResult:
        return TargetResult(name, passed, points if passed else 0.0, points, message, diagnosis, n,
                            n - len(failing), n_hidden, n_hidden - hidden_failed)

    if not len(failing):
        counted = f"{n} cases ({n_hidden} hidden)" if n_hidden else f"{n} cases"
        return result(True, f"{counted} within tolerance" + (f" ({summary})" if summary else ""))
    counted = (f"{len(shown)} of {n - n_hidden} public cases and {hidden_failed} of {n_hidden} hidden cases"
               if n_hidden else f"{len(shown)} of {n} cases")
    worst = ""
    if len(shown):
        j = int(shown[np.argmax(ratios[shown])])
        exp, out = expected.arrays[j], outputs[j]
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(out - exp)), exp.shape))
        worst = (f"worst: {_element(name, index)} in {cases[expected.cases[j]].describe()}: "
                 f"{_pair(float(exp[index]), float(out[index]))} (abs error {abs_errors[j]:.2g}, rel error "
                 f"{rel_errors[j]:.2g}; {summary}; tolerance {tol.rtol:g} relative)")
    if np.all(abs_errors[failing] <= tol.atol + PRECISION_RTOL * expected.scale[failing]):
        # Right to within float32's precision: that, and no mistake, is what it shows.
        single = any(d in _LOW_PRECISION for d in dtypes) or all(_single(outputs[j]) for j in failing)
        where = f"; {worst}" if worst else ""
        if single:
            message = f"right only to float32 precision in {counted}{where}: compute in float64"
            text = (f"{function} computes in float32 (single precision), right to about 1e-7 of each value, "
                    f"where the exercise asks for float64 (tolerance {tol.rtol:g} relative): compute in float64.")
        else:
            message = f"close to the truth but not exact in {counted}{where}"
            text = (f"{function}'s values are close to the truth but not exact (tolerance {tol.rtol:g} relative), "
                    "as a numerical approximation such as finite differences would be: an approximation is not a "
                    "derivation; derive the gradient by hand.")
        return result(False, message, Diagnosis("precision", text))
    if worst:
        message = f"wrong in {counted}; {worst}"
    else:
        message = (f"right in the {n - n_hidden} public cases, wrong in {hidden_failed} of {n_hidden} hidden cases "
                   f"(whose values are not shown)")
    if any(d in _LOW_PRECISION for d in dtypes):
        message += "; some results were returned in float32 or float16: compute in float64"
    return result(False, message, diagnose([int(j) for j in failing]))


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _single(values: np.ndarray) -> bool:
    """Whether every value is a float32 number (computed in float32, returned as float64)."""
    with np.errstate(over="ignore"):
        return bool(np.array_equal(values, values.astype(np.float32).astype(np.float64)))


def _pair(expected: float, got: float) -> str:
    """``expected 0.260577, got 0.26058``: with as many digits as it takes to tell them apart."""
    for digits in range(6, 18):
        if f"{expected:.{digits}g}" != f"{got:.{digits}g}":
            break
    return f"expected {expected:.{digits}g}, got {got:.{digits}g}"


def _symbolic(shape: Sequence[str | int]) -> str:
    """``(d, h)``, ``(h,)``, ``(1,)``: a symbolic shape written as Python writes tuples."""
    return f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"


def _element(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name
