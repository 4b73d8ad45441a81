"""CS231n 2020 on, fc_net.py's TwoLayerNet: affine, ReLU, affine, softmax loss, and 0.5·reg·(ΣW1² + ΣW2²).

The input has more than two axes, as the assignment's images do: X is
(N, d1, d2), flattened to (N, d1·d2) by the first affine layer. Pure JAX,
float64, highest matmul precision.
"""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def _matmul(a, b):
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def _relu(z):
    return jnp.maximum(z, 0.0)


def loss(X, y, reg, params, tap, scale=0.5, relu=_relu):
    h = relu(tap("hidden", _matmul(X.reshape(X.shape[0], -1), params["W1"]) + params["b1"]))
    scores = _matmul(h, params["W2"]) + params["b2"]
    logp = jax.nn.log_softmax(scores, axis=1)
    data = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
    return data + scale * reg * (jnp.sum(params["W1"] ** 2) + jnp.sum(params["W2"] ** 2))


def shapes(dims):
    n, d1, d2, h, c = (dims[k] for k in ("N", "d1", "d2", "H", "C"))
    return {"X": (n, d1, d2), "y": (n,), "reg": (), "W1": (d1 * d2, h), "b1": (h,), "W2": (h, c), "b2": (c,)}


def draw(dims, rng, batch):
    """A regularisation strength of the size courses use, never 0 (a forgotten term must show)."""
    return {"reg": rng.uniform(0.05, 0.5, size=batch)}


# Mistake models (exercise.yaml, mistakes).

def loss_full_reg(X, y, reg, params, tap):
    """The regularisation gradient taken as 2·reg·W: the reg·ΣW² of the 2017-2019 assignment."""
    return loss(X, y, reg, params, tap, scale=1.0)


def loss_no_reg(X, y, reg, params, tap):
    return loss(X, y, reg, params, tap, scale=0.0)


# The ReLU whose mask was left out: its gradient passed back unchanged.
_relu_unmasked = with_derivative(_relu, lambda z, g: g)


def loss_unmasked(X, y, reg, params, tap):
    """The hidden layer's error passed back without the ReLU's mask."""
    return loss(X, y, reg, params, tap, relu=_relu_unmasked)
