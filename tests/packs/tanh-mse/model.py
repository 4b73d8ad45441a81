"""u = x @ w + c, out = tanh(u), L = mean((out - y)**2)."""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def loss(x, y, params, tap, activation=jnp.tanh):
    u = tap("u", jnp.matmul(x, params["w"], precision=jax.lax.Precision.HIGHEST) + params["c"])
    return jnp.mean((activation(u) - y) ** 2)


def loss_derivative_one_minus_tanh(x, y, params, tap):
    """tanh'(u) taken as 1 - tanh(u) instead of 1 - tanh(u)**2."""
    return loss(x, y, params, tap, activation=with_derivative(jnp.tanh, lambda u, g: g * (1 - jnp.tanh(u))))
