"""Networks as pure functions over parameter pytrees.

Every function here is pure and works on JAX or NumPy arrays. Matrix products
ask for ``Precision.HIGHEST`` so that a GPU never silently uses TF32 and a TPU
never uses bfloat16 passes: the ground truth must not depend on the backend.

Layers come as ``init``/``apply`` pairs in the manner of
``jax.example_libraries.stax``: ``init_linear(key, n_in, n_out)`` returns the
parameters ``{"w": (n_in, n_out), "b": (n_out,)}`` and ``linear(params, x)``
applies them. A :class:`Network` is the declarative form a pack uses: a list of
:class:`Layer` whose linear layers name their parameters (``w1``, ``b1``), so
that parameters and inputs live together in one flat dict of named tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
Params = dict[str, Array]

_HIGHEST = jax.lax.Precision.HIGHEST


def linear(params: Mapping[str, Array], x: Array) -> Array:
    """Affine layer ``x @ w + b``.

    Args:
      params: ``{"w": (n_in, n_out), "b": (n_out,)}``.
      x: ``(N, n_in)``.

    Returns:
      ``(N, n_out)``, in the dtype of ``x``.
    """
    return jnp.matmul(x, params["w"], precision=_HIGHEST) + params["b"]


def relu(u: Array) -> Array:
    """Elementwise ``max(u, 0)``; any shape."""
    return jnp.maximum(u, 0.0)


def sigmoid(u: Array) -> Array:
    """Elementwise ``1 / (1 + exp(-u))``; any shape."""
    return jax.nn.sigmoid(u)


def mse(pred: Array, y: Array) -> Array:
    """Mean squared error ``mean((pred - y)**2)`` over every element.

    Args:
      pred, y: the same shape, ``(N, k)``.

    Returns:
      A scalar.
    """
    return jnp.mean((pred - y) ** 2)


def quadratic(pred: Array, y: Array) -> Array:
    """Quadratic cost ``sum((pred - y)**2) / (2 N)``: half the squared error,
    summed over the outputs of a sample and averaged over the ``N`` samples.
    For one sample with one output it is ``C = (a - y)**2 / 2``.

    Args:
      pred, y: the same shape, ``(N, k)``.

    Returns:
      A scalar.
    """
    return 0.5 * jnp.sum((pred - y) ** 2) / pred.shape[0]


def init_linear(key: Array, n_in: int, n_out: int, dtype=jnp.float64) -> Params:
    """Parameters of an affine layer, drawn from ``key``.

    ``w`` is LeCun-normal (variance ``1 / n_in``) so that pre-activations stay
    of order one whatever the width; ``b`` is normal with standard deviation
    0.5, never zero, so that a forgotten bias term shows in the gradients.

    Returns:
      ``{"w": (n_in, n_out), "b": (n_out,)}`` in ``dtype``.
    """
    key_w, key_b = jax.random.split(key)
    w = jax.random.normal(key_w, (n_in, n_out), dtype) / jnp.sqrt(n_in)
    b = 0.5 * jax.random.normal(key_b, (n_out,), dtype)
    return {"w": w, "b": b}


def init_mlp(key: Array, sizes: Sequence[int], dtype=jnp.float64) -> list[Params]:
    """Parameters of a stack of affine layers of the given sizes.

    Args:
      key: a PRNG key.
      sizes: ``(n_0, n_1, ..., n_L)``; layer ``i`` maps ``n_i`` to ``n_{i+1}``.

    Returns:
      ``L`` dicts ``{"w": (n_i, n_{i+1}), "b": (n_{i+1},)}``.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    return [init_linear(k, n_in, n_out, dtype) for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"relu": relu, "sigmoid": sigmoid}
LOSSES: dict[str, Callable[[Array, Array], Array]] = {"mse": mse, "quadratic": quadratic}


@dataclass(frozen=True)
class Layer:
    """One layer of a :class:`Network`.

    ``kind`` is ``"linear"`` (then ``weight`` and ``bias`` name its parameters
    in the tensors dict) or a key of :data:`ACTIVATIONS`.
    """

    kind: str
    weight: str | None = None
    bias: str | None = None


@dataclass(frozen=True)
class Network:
    """A feed-forward network and its loss, over a flat dict of named tensors.

    ``input`` and ``label`` name the tensors fed in and compared against;
    ``layers`` are applied in order to the input; ``loss`` is a key of
    :data:`LOSSES`.
    """

    input: str
    label: str
    layers: tuple[Layer, ...]
    loss: str

    def linear_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.kind == "linear")


def forward(network: Network, tensors: Mapping[str, Array]) -> tuple[Array, list[Array]]:
    """Run ``network`` on ``tensors``.

    Returns:
      ``(output, activation_inputs)``: the last layer's output and, for each
      activation layer in order, the tensor fed into it (the ReLU inputs whose
      distance from 0 the cases keep).
    """
    h = tensors[network.input]
    activation_inputs = []
    for layer in network.layers:
        if layer.kind == "linear":
            h = linear({"w": tensors[layer.weight], "b": tensors[layer.bias]}, h)
        else:
            activation_inputs.append(h)
            h = ACTIVATIONS[layer.kind](h)
    return h, activation_inputs


def loss(network: Network, tensors: Mapping[str, Array]) -> Array:
    """The scalar loss of ``network`` on ``tensors`` (inputs, label and parameters)."""
    output, _ = forward(network, tensors)
    return LOSSES[network.loss](output, tensors[network.label])
