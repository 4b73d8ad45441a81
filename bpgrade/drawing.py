"""Drawing and screening a case set (:mod:`bpgrade.cases` says how), with JAX.

Only :func:`bpgrade.cases.generate_cases` imports this module: grading from the
truth store never does.
"""

from __future__ import annotations

import zlib
from typing import Any, Mapping

import jax
import numpy as np

from . import truth
from .cases import Case
from .errors import PackError
from .models import is_shape
from .packs import PACK_FILE, Pack

#: Rounds of candidates before a shape is declared impossible to satisfy.
_ROUNDS = 20
#: A target whose true gradient is no larger than this in every entry counts as zero.
_ZERO = 1e-4


def case_set(pack: Pack, seed: int, hidden: bool = False, first: int = 0) -> tuple[Case, ...]:
    """The screened cases drawn from ``seed``, numbered from ``first`` (``hidden``: graded, never described).

    Raises:
      PackError: a shape that no case can satisfy.
    """
    # The pack's name joins the seed so that two packs never share their cases.
    seeds = [seed % 2**32, zlib.crc32(pack.name.encode())]
    cases: list[Case] = []
    with jax.enable_x64(True):
        for shape_index, dims in enumerate(_shapes(pack, np.random.default_rng(seeds))):
            found = _draw(pack, dims, [*seeds, shape_index], pack.cases.per_shape)
            if found is None:
                where = (f"cases.include[{shape_index}]" if shape_index < len(pack.cases.include)
                         else "dims")
                kinks = ("whose ReLU inputs can be kept away from 0 with active and inactive units, and "
                         if pack.model.kinks else "")
                raise PackError(str(pack.root / PACK_FILE), where,
                                f"a shape {kinks}whose gradients are not zero (a target whose gradient may be "
                                "zero says zero: true)", dict(dims))
            for tensors in found:
                cases.append(Case(first + len(cases), seed, dict(dims), tensors, hidden))
    return tuple(cases)


def _shapes(pack: Pack, rng: np.random.Generator) -> list[dict[str, int]]:
    shapes = [dict(s) for s in pack.cases.include]
    # A bounded number of draws: narrow dims may admit fewer shapes than asked for.
    for _ in range(100 * pack.cases.shapes):
        if len(shapes) >= pack.cases.shapes:
            break
        dims = {name: int(rng.integers(low, high + 1)) for name, (low, high) in pack.dims.items()}
        if dims not in shapes and _can_mix_activity(pack, dims):
            shapes.append(dims)
    return shapes


def _can_mix_activity(pack: Pack, dims: Mapping[str, int]) -> bool:
    """Whether every kink (ReLU input) of this shape has at least two entries."""
    if not pack.model.kinks:
        return True
    _, taps = jax.eval_shape(lambda a: truth.loss_and_taps(pack.model, a), pack.model.abstract(dims))
    return all(leaf.size >= 2 for kink in pack.model.kinks for leaf in jax.tree.leaves(taps[kink]))


def _candidates(pack: Pack, dims: Mapping[str, int], rng: np.random.Generator) -> dict[str, Any]:
    """A batch of ``truth.BATCH`` candidate cases, each leaf with a leading batch axis.

    Inputs are standard normal. Parameter matrices are LeCun-normal (variance
    ``1 / n_in``, their first axis) so that pre-activations stay of order one
    whatever the width; other parameters (biases) are normal with standard
    deviation 0.5, never zero, so that a forgotten bias term shows in the
    gradients. Integer inputs are uniform over their range. ``model.py``'s
    ``draw`` replaces what it returns.
    """
    shapes = pack.model.shape_trees(dims)

    def standard(shape):
        return rng.standard_normal((truth.BATCH, *shape))

    def param(shape):
        if len(shape) == 2:
            return rng.standard_normal((truth.BATCH, *shape)) / np.sqrt(shape[0])
        return 0.5 * rng.standard_normal((truth.BATCH, *shape))

    tensors = {name: jax.tree.map(standard, shapes[name], is_leaf=is_shape) for name in pack.model.inputs}
    for name in pack.model.integers:
        low, high = pack.model.bounds(name, dims)
        tensors[name] = rng.integers(low, high, size=(truth.BATCH, *shapes[name]), dtype=np.int64)
    tensors.update({name: jax.tree.map(param, shapes[name], is_leaf=is_shape) for name in pack.model.params})
    if pack.model.draw is not None:
        tensors.update(pack.model.draw(dict(dims), rng, truth.BATCH))
    return tensors


def _draw(pack: Pack, dims: Mapping[str, int], seeds: list[int], count: int) -> list[dict[str, Any]] | None:
    """``count`` screened cases of one shape, or None when none can be found."""
    if not _can_mix_activity(pack, dims):
        return None
    # A target that may be zero (zero: true) is not screened: its truth is what it is.
    wanted = {t.name: t.of for t in pack.targets if not t.zero}
    found: list[dict[str, Any]] = []
    for round_index in range(_ROUNDS):
        batch = _candidates(pack, dims, np.random.default_rng([*seeds, round_index]))
        grads, taps = truth.evaluate(pack.model, wanted or {pack.targets[0].name: pack.targets[0].of}, batch,
                                     jax.devices("cpu")[0])
        ok = np.ones(truth.BATCH, bool)
        if wanted:
            ok &= np.all([np.abs(g).reshape(truth.BATCH, -1).max(1) > _ZERO for g in jax.tree.leaves(grads)], axis=0)
        for kink in pack.model.kinks:
            for a in jax.tree.leaves(taps[kink]):
                a = a.reshape(truth.BATCH, -1)
                ok &= (np.abs(a) >= pack.cases.activation_margin).all(1) & (a > 0).any(1) & (a < 0).any(1)
        for j in np.flatnonzero(ok):
            found.append(jax.tree.map(lambda v: np.array(v[j]), batch))  # 0-d arrays, not NumPy scalars
            if len(found) == count:
                return found
    return None
