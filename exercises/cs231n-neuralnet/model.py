"""CS231n 2017-2019 neural_net.py: affine, ReLU, affine, softmax loss, and reg·(ΣW1² + ΣW2²).

Pure JAX, float64, highest matmul precision. Shared with cs231n-twolayer, whose
regularisation is half this one (``loss_half_reg``).
"""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def _matmul(a, b):
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def _relu(z):
    return jnp.maximum(z, 0.0)


def loss(X, y, reg, params, tap, scale=1.0, relu=_relu):
    h = relu(tap("hidden", _matmul(X.reshape(X.shape[0], -1), params["W1"]) + params["b1"]))
    scores = _matmul(h, params["W2"]) + params["b2"]
    logp = jax.nn.log_softmax(scores, axis=1)
    data = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
    return data + scale * reg * (jnp.sum(params["W1"] ** 2) + jnp.sum(params["W2"] ** 2))


def draw(dims, rng, batch):
    """A regularisation strength of the size courses use, never 0 (a forgotten term must show)."""
    return {"reg": rng.uniform(0.05, 0.5, size=batch)}


# Mistake models (exercise.yaml, mistakes).

def loss_half_reg(X, y, reg, params, tap):
    """The regularisation gradient taken as reg·W: the 0.5·reg·ΣW² of the 2020 assignment."""
    return loss(X, y, reg, params, tap, scale=0.5)


def loss_double_reg(X, y, reg, params, tap):
    """The regularisation gradient taken as 4·reg·W."""
    return loss(X, y, reg, params, tap, scale=2.0)


def loss_no_reg(X, y, reg, params, tap):
    return loss(X, y, reg, params, tap, scale=0.0)


# The ReLU whose mask was left out: its gradient passed back unchanged.
_relu_unmasked = with_derivative(_relu, lambda z, g: g)


def loss_unmasked(X, y, reg, params, tap):
    """The hidden layer's error passed back without the ReLU's mask."""
    return loss(X, y, reg, params, tap, relu=_relu_unmasked)
