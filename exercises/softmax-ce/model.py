"""Softmax regression: pure JAX, float64, highest matmul precision."""

import jax
import jax.numpy as jnp
import numpy as np


def loss(x, y, params, tap):
    z = tap("z", jnp.matmul(x, params["W"], precision=jax.lax.Precision.HIGHEST) + params["b"])
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))


def draw(dims, rng, batch):
    """One-hot labels: a random class per sample."""
    classes = rng.integers(0, dims["k"], size=(batch, dims["N"]))
    return {"y": np.eye(dims["k"])[classes]}
