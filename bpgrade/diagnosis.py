"""Diagnosis: the mistake that a failing target's numbers point to.

A failing target gets a :class:`~bpgrade.reports.Diagnosis`: a code from the
vocabulary of :data:`bpgrade.reports.DIAGNOSIS_CODES` and a text that names
the mistake, the part of the pack's README to revisit, and the smallest
failing public case (smallest dims) with the expected and received values.
A diagnosis never changes a grade.

Wrong values are checked against hypotheses, in this order: the pack's
mistake models (:mod:`bpgrade.mistakes`), then the negative of the truth, a
multiple of it (2, 1/2, a dim, one over a dim, or another constant), and its
transpose. A hypothesis fits when in every case the result is either right
or within :data:`FIT_RTOL` of the hypothesis: a formula that is wrong only in
some cases (a transpose that shows only where a matrix is square, a factor N
that is 1 when N = 1) is still recognised.

The mistake models' gradients are computed with the truth, in every case,
and kept with it in the truth store (:mod:`bpgrade.store`); a mistake model is
checked on the failing cases of the :data:`MISTAKE_SHAPES` largest failing
shapes (largest: where a mistake is least likely to coincide with the truth).
The cheap hypotheses are checked on every case. This module imports no JAX.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _calls
from .cases import Case, shape_key
from .packs import Pack, Target
from .reports import Diagnosis

#: Relative distance within which a result matches a hypothesis: loose enough
#: for a result computed in float32, far tighter than any two hypotheses differ.
FIT_RTOL = 1e-6
#: Shapes whose failing cases a mistake model is checked on.
MISTAKE_SHAPES = 3
#: Entries of an array shown in full in a diagnosis; larger ones are abridged.
_SHOWN = 24

Arrays = Sequence["np.ndarray | None"]
#: A hypothesis about what a failing result holds: its value at position ``j`` of the results (None: none).
Hypothesis = Callable[[int], "np.ndarray | None"]


class Diagnoser:
    """Diagnoses the failing targets of one pack on one set of cases.

    Args:
      pack: the exercise.
      cases: the cases graded, in order.
      variants: for each case, in order, the gradients of each of the pack's
        mistake models (``{target name: gradient}``, float64 arrays or pytrees
        of them), in the order of ``pack.mistakes``.
    """

    def __init__(self, pack: Pack, cases: Sequence[Case], variants: Sequence[Sequence[Mapping[str, Any]]]):
        self.pack, self.cases, self.variants = pack, tuple(cases), variants
        self._truths_shown: dict[int, tuple[np.ndarray, str]] = {}
        self._shape_keys = [shape_key(case) for case in self.cases]

    def missing(self, target: Target, name: str | None = None) -> Diagnosis:
        """``name``: what the pack's harness looked for and did not find (None: the target's function)."""
        if name is not None and self.pack.exercise_cell and name == target.key:
            return self._make("missing", target, f"Compute {name} in the exercise's cell (the cell that computes "
                              "the others); its name must be exactly this one.")
        if name is not None:
            return self._make("missing", target, f"Define {name} in your file, as the course's template does; "
                              f"{target.name} needs it, and its name must be exactly this one.")
        args = ", ".join([*self.pack.inputs, *(["params"] if self.pack.params else [])])
        return self._make("missing", target, f"Define {target.function}({args}) in your file, as template.py "
                          "shows; its name must be exactly this one.")

    def error(self, target: Target, code: str, error: str, case: Case | None) -> Diagnosis:
        """An exception (``error``) or a result that ran out of memory, in ``case`` (a public
        one); ``error`` ends with the student's line (``"... (line 12: `return 1 / 0`)"``, or
        ``(cell 7, line 3: ...)`` in a notebook)."""
        where = case.describe() if case is not None else "a case"
        if code == "memory":
            return self._make(code, target, f"{target.function} ran out of memory in {where}: look for an array "
                              "that grows with a loop or an outer product much larger than the inputs.")
        kind = re.match(r"[\w.]*", error)[0] or "an exception"
        line = re.search(r"\(((?:cell \d+, |[\w./-]+\.py, )?line \d+)(?:: `(.*)`)?\)$", error)
        at = f" at {line[1]}" + (f": `{line[2]}`" if line[2] else "") if line else ""
        how = ""
        if case is not None:
            seed = f" --seed {case.seed}" if case.seed != self.pack.cases.public_seed else ""
            how = f" (`bpgrade case {self.pack.spec} {case.index}{seed}` prints its arguments)"
        return self._make(code, target, f"{target.function} raised {kind}{at}. Call it yourself on {where}{how} "
                          "to see why.")

    def nonfinite(self, target: Target, message: str) -> Diagnosis:
        return self._make("nonfinite", target, f"{message}: look for a division by zero, a log of 0, or an exp "
                          "that overflows (subtract the maximum before exponentiating).")

    def shape(self, target: Target, name: str, symbolic: str, case_index: Sequence[int], expected: Arrays,
              got: Arrays) -> Diagnosis:
        """A result of the wrong shape: names both and their relation; ``transpose``
        when every wrong result is the truth transposed."""
        wrong = [j for j, (e, g) in enumerate(zip(expected, got)) if g is None or g.shape != e.shape]
        if _fits(got, lambda j: _transposed(expected[j]), wrong):
            return self._make("transpose", target, f"{target.function} returns d loss / d {name} transposed, "
                              f"where {symbolic} is expected: swap the operands of the product (or transpose the "
                              "result).", case_index, expected, got, wrong)
        first = wrong[0]
        e, g = expected[first], got[first]
        if g is None:
            return self._make("shape", target, f"{target.function} returns a result without {name}, which the "
                              f"gradient holds (shape {symbolic}): return the same nesting of lists and dicts as "
                              "the gradient.", case_index, expected, got, wrong)
        relation = _shape_relation(g.shape, e.shape)
        values = (" Its values are right: reshape it." if g.size == e.size and relation
                  and _close(g.reshape(e.shape), e) else "")
        return self._make("shape", target, f"{target.function} returns shape {g.shape}, expected {symbolic}"
                          f"{' = ' + str(e.shape) if symbolic != str(e.shape) else ''}{relation}.{values}",
                          case_index, expected, got, wrong)

    def values(self, target: Target, path: str, case_index: Sequence[int], expected: Arrays, got: Arrays,
               failing: Sequence[int]) -> Diagnosis | None:
        """Wrong values (right shapes, finite): the first hypothesis that fits, or None."""
        examined = self._examined(case_index, failing)
        for k, mistake in enumerate(self.pack.mistakes):
            def wrong(j: int, k: int = k) -> np.ndarray | None:
                return _leaf(self.variants[case_index[j]][k][target.name], path)

            if _names(got, wrong, expected, examined):
                return self._make(mistake.code, target, mistake.text, case_index, expected, got, failing,
                                  mistake.readme)
        if _names(got, lambda j: -expected[j], expected, failing):
            return self._make("sign", target, "The values are the negative of the truth: a sign is flipped "
                              "somewhere (p - y against y - p, or a minus lost in a derivative).",
                              case_index, expected, got, failing)
        factor = self._factor(case_index, expected, got, failing)
        if factor is not None:
            return self._make("scale", target, f"The values are {factor}.", case_index, expected, got, failing)
        if _names(got, lambda j: _transposed(expected[j]), expected, failing):
            return self._make("transpose", target, "The values are the truth transposed (where the matrix is "
                              "square, the shape cannot tell): swap the operands of the product.",
                              case_index, expected, got, failing)
        return None

    def _factor(self, case_index: Sequence[int], expected: Arrays, got: Arrays, failing: Sequence[int]
                ) -> str | None:
        """``"N times the truth: ..."``: the multiple of the truth that fits, with what it suggests, or None."""
        def scaled(factor: Callable[[Case], float]) -> Hypothesis:
            return lambda j: factor(self.cases[case_index[j]]) * expected[j]

        candidates: list[tuple[Callable[[Case], float], str]] = [
            (lambda c: 2.0, "2 times the truth: a factor 2 too many"),
            (lambda c: 0.5, "1/2 times the truth: a factor 2 left out (the derivative of a square is 2 (p − y))"),
        ]
        for dim in self.pack.dims:
            candidates += [
                (lambda c, dim=dim: c.dims[dim], f"{dim} times the truth ({dim} is a dim of the exercise): a mean "
                 f"over {dim} taken as a sum, or a 1/{dim} left out"),
                (lambda c, dim=dim: 1 / c.dims[dim], f"1/{dim} times the truth ({dim} is a dim of the exercise): "
                 f"a division by {dim} too many"),
                (lambda c, dim=dim: 2 * c.dims[dim], f"2{dim} times the truth"),
                (lambda c, dim=dim: c.dims[dim] / 2, f"{dim}/2 times the truth"),
                (lambda c, dim=dim: 2 / c.dims[dim], f"2/{dim} times the truth"),
                (lambda c, dim=dim: 0.5 / c.dims[dim], f"1/(2{dim}) times the truth"),
            ]
            candidates += [(lambda c, dim=dim, other=other: c.dims[dim] / c.dims[other],
                            f"{dim}/{other} times the truth: a mean over {other} where one over {dim} is meant "
                            "(a sum or a mean over the wrong axis)")
                           for other in self.pack.dims if other != dim]
        for factor, label in candidates:
            if _names(got, scaled(factor), expected, failing):
                return label
        j = failing[0]
        e, g = expected[j], got[j]
        if not np.any(e):  # a truth of zeros: no multiple of it is anything else
            return None
        k = float(np.vdot(g, e) / np.vdot(e, e))
        if k != 0 and _names(got, lambda j: k * expected[j], expected, failing):
            fraction = Fraction(k).limit_denominator(16)
            shown = str(fraction) if abs(float(fraction) - k) <= FIT_RTOL * abs(k) else f"{k:.6g}"
            return f"{shown} times the truth, in every case"
        return None

    def _examined(self, case_index: Sequence[int], failing: Sequence[int]) -> list[int]:
        """The failing positions that lie in the MISTAKE_SHAPES largest failing shapes."""
        keys = self._shape_keys
        shapes = sorted({keys[case_index[j]] for j in failing},
                        key=lambda key: (-sum(size for _, size in key), key))[:MISTAKE_SHAPES]
        return [j for j in failing if keys[case_index[j]] in shapes]

    def _shown(self, truth: np.ndarray) -> str:
        """:func:`_show` of a true gradient, kept: every submission that fails on a case shows it."""
        key = id(truth)
        if key not in self._truths_shown:
            # The array is kept with its text: its id is never another's while both live.
            self._truths_shown[key] = (truth, _show(truth))
        return self._truths_shown[key][1]

    def _make(self, code: str, target: Target, text: str, case_index: Sequence[int] = (), expected: Arrays = (),
              got: Arrays = (), failing: Sequence[int] = (), readme: str | None = None) -> Diagnosis:
        heading = readme or target.readme
        show = f"`bpgrade show {self.pack.spec}`"
        parts = [text, f"Revisit “{heading}” in the exercise's README ({show})." if heading else
                 f"Revisit the exercise's README ({show})."]
        shown = [j for j in failing if not self.cases[case_index[j]].hidden]
        if shown:
            j = min(shown, key=lambda j: (sum(self.cases[case_index[j]].dims.values()), case_index[j]))
            parts.append(f"\nSmallest failing case: {self.cases[case_index[j]].describe()}\n"
                         f"  expected {self._shown(expected[j])}\n  received {_show(got[j])}")
        elif failing:
            parts.append("It fails in hidden cases only.")
        return Diagnosis(code, " ".join(parts).replace(" \n", "\n"))


def _fits(got: Arrays, hypothesis: Hypothesis, failing: Sequence[int]) -> bool:
    """Some results fail, and every failing one matches the hypothesis (the
    others are right: within the grading tolerance, or of the right shape).
    The hypothesis is computed only where it is compared, up to the first case it misses."""
    for j in failing:
        wanted = hypothesis(j)
        if got[j] is None or wanted is None or wanted.shape != got[j].shape or not _close(got[j], wanted):
            return False
    return bool(failing)


def _names(got: Arrays, hypothesis: Hypothesis, expected: Arrays, failing: Sequence[int]) -> bool:
    """The hypothesis fits, and is not the truth itself where the results fail (a mistake that does
    not change this target, a factor that is 1 in these cases): only then may it be named."""
    return _fits(got, hypothesis, failing) and not _fits(expected, hypothesis, failing)


def _transposed(expected: np.ndarray) -> np.ndarray | None:
    return expected.T if expected.ndim == 2 else None


def _leaf(tree: Any, path: str) -> np.ndarray | None:
    if not path and type(tree) is np.ndarray:  # most targets: one array
        return tree
    for p, leaf in _calls.leaves(tree):
        if p == path:
            return np.asarray(leaf)
    return None


def _close(got: np.ndarray, hypothesis: np.ndarray) -> bool:
    # Methods, not np.max and np.all: the same reductions without their Python wrappers.
    scale = float(np.abs(hypothesis).max(initial=0.0))
    return bool((np.abs(got - hypothesis) <= FIT_RTOL * scale + 1e-12).all())


def _shape_relation(got: tuple, expected: tuple) -> str:
    """What a wrong shape is to the right one, as a clause."""
    if len(got) == 2 and got == expected[::-1]:
        return f": {got} is {expected} transposed"
    squeezed_got = tuple(a for a in got if a != 1)
    squeezed_expected = tuple(a for a in expected if a != 1)
    if squeezed_got == squeezed_expected and len(got) > len(expected):
        return ": it has an extra axis of size 1 (keepdims, or a reshape too many)"
    if squeezed_got == squeezed_expected and len(got) < len(expected):
        return ": it lacks an axis of size 1 (a sum or an indexing dropped it)"
    if int(np.prod(got)) == int(np.prod(expected)):
        return ": the same number of entries in another layout"
    return ""


def _show(value: np.ndarray | None) -> str:
    if value is None:
        return "nothing"
    text = np.array2string(np.asarray(value), precision=6, threshold=_SHOWN, separator=", ",
                           max_line_width=88, floatmode="maxprec")
    return text.replace("\n", "\n           ")
