"""Test cases: deterministic from (pack, seed), and hard to pass by accident.

A case set holds ``cases.shapes`` distinct shapes (the pack's ``include`` list
first, then shapes drawn from the dims' ranges) and ``cases.per_shape`` cases
of each. Without a seed, a pack's cases are its public set and, when it
declares ``hidden_seed``, a hidden set drawn the same way from that seed: the
hidden cases are graded like the others, but reports give only their pass and
fail counts. Every case is screened so that:

- every ReLU input (a pack's kinks) is at least ``activation_margin`` away
  from 0, so that a ``u > 0`` mask and a ``u >= 0`` mask are both right;
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
from typing import Any, Mapping

import numpy as np

from .errors import BpgradeError, PackError
from .packs import PACK_FILE, Pack

#: Rounds of candidates before a shape is declared impossible to satisfy.
_ROUNDS = 20
#: A target whose true gradient is no larger than this in every entry counts as zero.
_ZERO = 1e-4


@dataclass(frozen=True)
class Case:
    """One test case: the dims and every tensor the network reads.

    ``tensors`` maps each input and parameter name to a float64 NumPy array
    (int64 for an integer input) of its concrete shape (``{"x": (N, d), "w1": (d, h), ...}``), or to a pytree
    of them (``{"layers": [{"w": ..., "b": ...}, ...]}``). A ``hidden`` case
    is graded but never described to the student.
    """

    index: int
    seed: int
    dims: Mapping[str, int]
    tensors: Mapping[str, np.ndarray]
    hidden: bool = False

    def describe(self) -> str:
        """``"case 3 (N=1, d=3, h=4, seed 0)"``, or ``"a hidden case"``."""
        if self.hidden:
            return "a hidden case"
        dims = "".join(f"{k}={v}, " for k, v in self.dims.items())
        return f"case {self.index} ({dims}seed {self.seed})"


def shape_key(case: Case) -> tuple:
    """What cases of one shape share (their dims, in a fixed order): one compiled program serves them all."""
    return tuple(sorted(case.dims.items()))


def generate_cases(pack: Pack, seed: int | None = None) -> tuple[Case, ...]:
    """The cases of ``pack``: the set drawn from ``seed``, or when None the
    pack's public set followed by its hidden set (if it declares one).

    Raises:
      PackError: an ``include`` shape that no case can satisfy, or dims that
        admit no valid shape.
    """
    if seed is not None:
        return _case_set(pack, seed)
    public = _case_set(pack, pack.cases.public_seed)
    if pack.cases.hidden_seed is None:
        return public
    return public + _case_set(pack, pack.cases.hidden_seed, hidden=True, first=len(public))


def _case_set(pack: Pack, seed: int, hidden: bool = False, first: int = 0) -> tuple[Case, ...]:
    # JAX is imported where cases are drawn and screened: a case set read from the truth store needs none.
    import jax

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
    import jax

    from . import truth
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
    import jax

    from . import truth
    from .models import is_shape

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
    import jax

    from . import truth

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


def case_source(pack: Pack, case: Case) -> str:
    """Python code that builds ``case``'s arguments exactly as bpgrade passes them
    (float64 values written so that they read back bit for bit), ready to paste.

    Raises:
      BpgradeError: a hidden case, whose values are never shown.
    """
    if case.hidden:
        raise BpgradeError(f"case {case.index} is a hidden case: its values are not shown")
    call = ", ".join([*pack.inputs, *(["params"] if pack.params else [])])
    if pack.harness is None:
        how = [f"# {case.describe()} of {pack.name}, as bpgrade passes it; then call, for example,",
               f"# {pack.targets[0].function}({call})"]
    elif pack.exercise_cell:
        how = [f"# {case.describe()} of {pack.name}: bpgrade sets these as your notebook's globals (with",
               f"# the sizes that `bpgrade show {pack.spec}` lists), runs the course's forward pass on them,",
               "# then your exercise's cell"]
    else:
        # A harness pack calls the student's code as the course does: say how, not a grad_ function.
        called = f" ({', '.join(pack.harness_names)})" if pack.harness_names else ""
        how = [f"# {case.describe()} of {pack.name}: bpgrade calls your code with these as the pack's",
               f"# harness.py does{called}"]
    lines = [*how, "import numpy as np", ""]
    lines += [f"{name} = {_literal(case.tensors[name], 0)}" for name in pack.inputs]
    if pack.params:
        entries = "".join(f"\n    {name!r}: {_literal(case.tensors[name], 4)}," for name in pack.params)
        lines.append("params = {" + entries + "\n}")
    if pack.array_library[0] == "torch":
        lines += ["", "# as torch tensors, as bpgrade passes them", "import torch", "",
                  *(f"{name} = torch.from_numpy({name})" for name in pack.inputs)]
        if pack.params:
            lines.append("params = {name: torch.from_numpy(value) for name, value in params.items()}")
    if pack.exercise_cell:
        lines += [f"{name} = params[{name!r}]" for name in pack.params]
    return "\n".join(lines) + "\n"


def _literal(value, indent: int) -> str:
    """A float64 or int64 array (or a nest of lists and dicts of them) as Python code."""
    pad = " " * indent
    if isinstance(value, dict):
        return "{" + "".join(f"\n{pad}    {k!r}: {_literal(v, indent + 4)}," for k, v in value.items()) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        return "[" + "".join(f"\n{pad}    {_literal(v, indent + 4)}," for v in value) + f"\n{pad}]"
    if np.asarray(value).dtype.kind in "iu":
        return f"np.array({np.asarray(value).tolist()!r}, dtype=np.int64)"
    # repr of a Python float is the shortest text that reads back as the same float64.
    return f"np.array({np.asarray(value, dtype=np.float64).tolist()!r}, dtype=np.float64)"
