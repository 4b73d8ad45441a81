"""Layer normalisation with a quadratic cost, as a pure JAX function."""

import jax.numpy as jnp

EPS = 1e-5


def loss(x, y, params, tap):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    xhat = (x - mu) / jnp.sqrt(var + EPS)
    out = params["gamma"] * xhat + params["beta"]
    return 0.5 * jnp.sum((out - y) ** 2) / x.shape[0]
