"""Test cases: deterministic from (pack, seed), and hard to pass by accident.

A case set holds ``cases.shapes`` distinct shapes (the pack's ``include`` list
first, then shapes drawn from the dims' ranges) and ``cases.per_shape`` cases
of each. Every case is screened so that:

- every ReLU input is at least ``activation_margin`` away from 0, so that a
  ``u > 0`` mask and a ``u >= 0`` mask are both right;
- every ReLU layer holds both active and inactive units, so that a forgotten
  mask is caught (a shape whose ReLU inputs have a single entry is never used);
- no target's true gradient is all zero, so that returning zeros never passes.

Tensors are drawn with NumPy's PCG64 generator and screened on the CPU, so that
a case set is the same whatever device grades it. (Drawing them with
``jax.random`` instead would cost an XLA compilation per shape, about 0.6 s.)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from . import networks, truth
from .errors import PackError
from .packs import PACK_FILE, Pack

#: Rounds of candidates before a shape is declared impossible to satisfy.
_ROUNDS = 20
#: A target whose true gradient is no larger than this in every entry counts as zero.
_ZERO = 1e-4


@dataclass(frozen=True)
class Case:
    """One test case: the dims and every tensor the network reads.

    ``tensors`` maps each input and parameter name to a float64 NumPy array of
    its concrete shape (``{"x": (N, d), "w1": (d, h), ...}``).
    """

    index: int
    seed: int
    dims: Mapping[str, int]
    tensors: Mapping[str, np.ndarray]

    def describe(self) -> str:
        """``"case 3 (N=1, d=3, h=4, seed 0)"``."""
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        return f"case {self.index} ({dims}, seed {self.seed})"


def generate_cases(pack: Pack, seed: int | None = None) -> tuple[Case, ...]:
    """The case set of ``pack`` for ``seed`` (the pack's public seed when None).

    Raises:
      PackError: an ``include`` shape that no case can satisfy, or dims that
        admit no valid shape.
    """
    seed = pack.cases.public_seed if seed is None else seed
    # The pack's name joins the seed so that two packs never share their cases.
    seeds = [seed % 2**32, zlib.crc32(pack.name.encode())]
    cases: list[Case] = []
    with jax.enable_x64(True):
        for shape_index, dims in enumerate(_shapes(pack, np.random.default_rng(seeds))):
            found = _draw(pack, dims, [*seeds, shape_index], pack.cases.per_shape)
            if found is None:
                where = (f"cases.include[{shape_index}]" if shape_index < len(pack.cases.include)
                         else "dims")
                raise PackError(str(pack.root / PACK_FILE), where,
                                "a shape whose ReLU inputs can be kept away from 0 with active and inactive "
                                "units, and whose gradients are not zero", dict(dims))
            for tensors in found:
                cases.append(Case(len(cases), seed, dict(dims), tensors))
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
    """Whether every ReLU input of this shape has at least two entries."""
    shapes = {name: jax.ShapeDtypeStruct(pack.concrete_shape(name, dims), jnp.float64)
              for name in [*pack.inputs, *pack.params]}
    _, acts = jax.eval_shape(lambda t: networks.forward(pack.network, t), shapes)
    return all(a.size >= 2 for a, layer in zip(acts, _activation_layers(pack)) if layer.kind == "relu")


def _activation_layers(pack: Pack) -> list[networks.Layer]:
    return [layer for layer in pack.network.layers if layer.kind != "linear"]


def _candidates(pack: Pack, dims: Mapping[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A batch of ``truth.BATCH`` candidate cases, each tensor with a leading batch axis.

    Inputs are standard normal. Weights are LeCun-normal (variance ``1 / n_in``)
    so that pre-activations stay of order one whatever the width; biases are
    normal with standard deviation 0.5, never zero, so that a forgotten bias
    term shows in the gradients.
    """
    tensors = {name: rng.standard_normal((truth.BATCH, *pack.concrete_shape(name, dims))) for name in pack.inputs}
    for layer in pack.network.linear_layers():
        n_in, n_out = pack.concrete_shape(layer.weight, dims)
        tensors[layer.weight] = rng.standard_normal((truth.BATCH, n_in, n_out)) / np.sqrt(n_in)
        tensors[layer.bias] = 0.5 * rng.standard_normal((truth.BATCH, n_out))
    return tensors


def _draw(pack: Pack, dims: Mapping[str, int], seeds: list[int], count: int) -> list[dict[str, np.ndarray]] | None:
    """``count`` screened cases of one shape, or None when none can be found."""
    if not _can_mix_activity(pack, dims):
        return None
    kinds = [layer.kind for layer in _activation_layers(pack)]
    wrt = [t.name for t in pack.targets]
    found: list[dict[str, np.ndarray]] = []
    for round_index in range(_ROUNDS):
        batch = _candidates(pack, dims, np.random.default_rng([*seeds, round_index]))
        grads, acts = truth.evaluate(pack.network, wrt, batch, jax.devices("cpu")[0])
        ok = np.all([np.abs(g).reshape(truth.BATCH, -1).max(1) > _ZERO for g in grads.values()], axis=0)
        for kind, a in zip(kinds, acts):
            if kind == "relu":
                a = a.reshape(truth.BATCH, -1)
                ok &= (np.abs(a) >= pack.cases.activation_margin).all(1) & (a > 0).any(1) & (a < 0).any(1)
        for j in np.flatnonzero(ok):
            found.append({k: v[j] for k, v in batch.items()})
            if len(found) == count:
                return found
    return None
