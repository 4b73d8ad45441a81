"""Softmax regression: pure JAX, float64, highest matmul precision."""

import jax
import jax.numpy as jnp
import numpy as np


def _cross_entropy(z, y):
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))


def loss(x, y, params, tap, cross_entropy=_cross_entropy):
    z = tap("z", jnp.matmul(x, params["W"], precision=jax.lax.Precision.HIGHEST) + params["b"])
    return cross_entropy(z, y)


# Mistake model (exercise.yaml, mistakes): the error at z computed with the
# softmax normalised over the samples (axis 0) instead of the classes.

@jax.custom_vjp
def _softmax_over_samples(z, y):
    return _cross_entropy(z, y)


def _forward(z, y):
    return _cross_entropy(z, y), (z, y)


def _backward(saved, g):
    z, y = saved
    # As a student writes it: the row maximum subtracted, then the sum over the wrong axis.
    e = jnp.exp(z - z.max(axis=1, keepdims=True))
    return g * (e / e.sum(axis=0, keepdims=True) - y) / z.shape[0], jnp.zeros_like(y)


_softmax_over_samples.defvjp(_forward, _backward)


def loss_softmax_over_samples(x, y, params, tap):
    return loss(x, y, params, tap, cross_entropy=_softmax_over_samples)


def draw(dims, rng, batch):
    """One-hot labels: a random class per sample."""
    classes = rng.integers(0, dims["k"], size=(batch, dims["N"]))
    return {"y": np.eye(dims["k"])[classes]}
