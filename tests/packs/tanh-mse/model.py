"""u = x @ w + c, out = tanh(u), L = mean((out - y)**2)."""

import jax
import jax.numpy as jnp


def loss(x, y, params, tap):
    u = tap("u", jnp.matmul(x, params["w"], precision=jax.lax.Precision.HIGHEST) + params["c"])
    return jnp.mean((jnp.tanh(u) - y) ** 2)
