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

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .errors import BpgradeError
from .packs import Pack

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
    # Drawing and screening take JAX: a case set read from the truth store needs neither.
    from .drawing import case_set

    if seed is not None:
        return case_set(pack, seed)
    public = case_set(pack, pack.cases.public_seed)
    if pack.cases.hidden_seed is None:
        return public
    return public + case_set(pack, pack.cases.hidden_seed, hidden=True, first=len(public))


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
