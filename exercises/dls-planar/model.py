"""Coursera DLS course 1 week 3: one tanh hidden layer, a sigmoid output and the cross-entropy cost.

Column-major, as the course writes it: X is (n_x, m), one example per column.
Pure JAX, float64, highest matmul precision.
"""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def _matmul(a, b):
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def loss(X, Y, params, tap, tanh=jnp.tanh):
    A1 = tanh(_matmul(params["W1"], X) + params["b1"])
    Z2 = tap("Z2", _matmul(params["W2"], A1) + params["b2"])
    # -(1/m) Σ Y log A2 + (1 − Y) log(1 − A2), with A2 = sigmoid(Z2), written stably.
    return jnp.mean(Y * jax.nn.softplus(-Z2) + (1 - Y) * jax.nn.softplus(Z2))


# Mistake model (exercise.yaml, mistakes): the derivative of tanh taken as 1 − A1.

_tanh_one_minus_a = with_derivative(jnp.tanh, lambda z, g: g * (1 - jnp.tanh(z)))


def loss_tanh_one_minus_a(X, Y, params, tap):
    return loss(X, Y, params, tap, tanh=_tanh_one_minus_a)
