"""A pack's model: its loss as a pure JAX function, with named intermediates.

A :class:`Model` is what the truth differentiates and what the cases are drawn
for. It comes either from the declarative ``network:`` of ``exercise.yaml``
(:func:`from_network`) or from a pack's own ``model.py`` (:func:`load_model`),
which defines::

    def loss(x, y, params, tap):          # the inputs in exercise.yaml's order, then params
        z = tap("z", x @ params["w"] + params["b"])
        return ...                        # a scalar

``tap(name, value)`` returns ``value`` and names it; ``tap(name, value, i)``
names the ``i``-th of a list (one per layer, say). A target ``of`` a tapped
name is the gradient of the loss with respect to that intermediate (a delta):
the truth adds a zero at the tap and differentiates with respect to it.

Optionally, ``model.py`` also defines ``shapes(dims)`` (every argument's
shape, or a pytree of shapes, for the given dims: for parameters whose
structure varies, such as a list of layers) and ``draw(dims, rng, batch)``
(the arguments it wants drawn otherwise than standard normal, each with a
leading batch axis). A pack's Python code is trusted: it runs in the grader,
never in a worker.

Inputs declared ``integers`` (class labels, indices) are int64 arrays drawn
uniformly from their range; the truth never differentiates with respect to them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from . import networks
from .networks import Network

Tap = Callable[..., Any]
#: A shape: a tuple of ints; parameters may be a pytree (dicts, lists) of them.
ShapeTree = Any


def is_shape(value: Any) -> bool:
    """A leaf of a shape tree: a tuple or list of ints (a list of layers is not one)."""
    return isinstance(value, (tuple, list)) and all(isinstance(a, int) for a in value)


@dataclass(frozen=True, eq=False)
class Model:
    """A loss over named arguments, with named intermediates.

    ``loss(*inputs, params, tap)`` returns a scalar; ``inputs`` names the
    positional arguments and ``params`` the keys of the params dict (each a
    tensor or a pytree of tensors). ``shapes(dims)`` maps each of those names
    to a shape tree; ``draw(dims, rng, batch)``, when set, draws some
    arguments itself. ``kinks`` are tapped names whose entries must stay away
    from 0, with both signs in every case (ReLU inputs). ``integers`` maps
    each integer input to its range ``(low, high)``, ``low <= value < high``,
    each bound an int or a dim's name.
    """

    inputs: tuple[str, ...]
    params: tuple[str, ...]
    loss: Callable[..., Any]
    shapes: Callable[[Mapping[str, int]], Mapping[str, ShapeTree]]
    draw: Callable[[Mapping[str, int], np.random.Generator, int], Mapping[str, Any]] | None = None
    kinks: tuple[str, ...] = ()
    integers: Mapping[str, tuple[int | str, int | str]] = dataclasses.field(default_factory=dict)

    def call(self, tensors: Mapping[str, Any], tap: Tap) -> Any:
        """The loss of one case, from its flat ``{name: tensor}`` dict."""
        params = {name: tensors[name] for name in self.params}
        return self.loss(*(tensors[name] for name in self.inputs), params, tap)

    def shape_trees(self, dims: Mapping[str, int]) -> dict[str, ShapeTree]:
        """Every argument's shape tree for ``dims``, each shape a tuple of ints."""
        shapes = self.shapes(dims)
        return {name: jax.tree.map(tuple, shapes[name], is_leaf=is_shape) for name in (*self.inputs, *self.params)}

    def abstract(self, dims: Mapping[str, int]) -> dict[str, Any]:
        """Every argument as ``jax.ShapeDtypeStruct`` leaves (float64, int64 for
        integer inputs), for ``jax.eval_shape``."""
        return {name: jax.tree.map(lambda s: jax.ShapeDtypeStruct(s, jnp.int64 if name in self.integers
                                                                  else jnp.float64), tree, is_leaf=is_shape)
                for name, tree in self.shape_trees(dims).items()}

    def bounds(self, name: str, dims: Mapping[str, int]) -> tuple[int, int]:
        """The range ``[low, high)`` of an integer input for ``dims``."""
        return tuple(dims[b] if isinstance(b, str) else b for b in self.integers[name])


def symbolic_shapes(shapes: Mapping[str, tuple]) -> Callable[[Mapping[str, int]], dict[str, tuple]]:
    """``shapes(dims)`` for shapes written with dim names: ``{"w": ("d", "h")}``."""
    def concrete(dims: Mapping[str, int]) -> dict[str, tuple]:
        return {name: tuple(dims[a] if isinstance(a, str) else a for a in shape) for name, shape in shapes.items()}
    return concrete


def from_network(network: Network, inputs: Mapping[str, tuple], params: Mapping[str, tuple], *,
                 activations: Mapping[int, Callable] | None = None, linears: Mapping[int, Callable] | None = None,
                 loss: Callable | None = None) -> Model:
    """The model of a declarative network; its activation inputs are tapped as
    ``act0``, ``act1``, ... and those of ReLU layers are its kinks.

    ``activations`` (by activation index), ``linears`` (by linear-layer index,
    called as ``f(params, h)``) and ``loss`` replace parts of the network: that
    is how :mod:`bpgrade.mistakes` builds the networks of students' mistakes.
    """
    kinds = [layer.kind for layer in network.layers if layer.kind != "linear"]
    activations, linears = activations or {}, linears or {}
    loss_fn = loss or networks.LOSSES[network.loss]

    def model_loss(*args):
        *values, params_, tap = args
        tensors = {**dict(zip(inputs, values)), **params_}
        h = tensors[network.input]
        n_act = n_lin = 0
        for layer in network.layers:
            if layer.kind == "linear":
                apply = linears.get(n_lin, networks.linear)
                h = apply({"w": tensors[layer.weight], "b": tensors[layer.bias]}, h)
                n_lin += 1
            else:
                activate = activations.get(n_act, networks.ACTIVATIONS[layer.kind])
                h = activate(tap(f"act{n_act}", h))
                n_act += 1
        return loss_fn(h, tensors[network.label])

    return Model(tuple(inputs), tuple(params), model_loss, symbolic_shapes({**inputs, **params}),
                 kinks=tuple(f"act{i}" for i, kind in enumerate(kinds) if kind == "relu"))


class ModelFileError(Exception):
    """A ``model.py`` that cannot be loaded: says what is wrong (the pack names the file)."""


def load_model(path: Path, inputs: tuple[str, ...], params: tuple[str, ...],
               declared: Mapping[str, tuple] | None, kinks: tuple[str, ...],
               variants: tuple[str, ...] = ()) -> tuple[Model, dict[str, Model]]:
    """The model that a pack's ``model.py`` defines, and its variants.

    Args:
      path: the file.
      inputs, params: the argument names, from exercise.yaml.
      declared: symbolic shapes from exercise.yaml, used when the file defines
        no ``shapes``; None when exercise.yaml gives names only.
      kinks: tapped names to keep away from 0.
      variants: names of other functions of the file with the signature of
        ``loss`` (the pack's mistake models).

    Returns:
      ``(model, {variant name: the model with that function as its loss})``.

    Raises:
      ModelFileError: the file fails to import or lacks what it must define.
    """
    spec = importlib.util.spec_from_file_location(f"bpgrade_pack_model_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - report any failure of the pack's own code with its file
        raise ModelFileError(f"failed to import: {type(e).__name__}: {e}") from None
    loss = getattr(module, "loss", None)
    if not callable(loss):
        raise ModelFileError("no function loss(*inputs, params, tap)")
    shapes = getattr(module, "shapes", None)
    if shapes is None:
        if declared is None:
            raise ModelFileError("no function shapes(dims), and exercise.yaml gives no shapes")
        shapes = symbolic_shapes(declared)
    draw = getattr(module, "draw", None)
    model = Model(inputs, params, loss, shapes, draw if callable(draw) else None, kinks)
    found = {}
    for name in variants:
        variant = getattr(module, name, None)
        if not callable(variant):
            raise ModelFileError(f"no function {name}(*inputs, params, tap)")
        found[name] = dataclasses.replace(model, loss=variant)
    return model, found
