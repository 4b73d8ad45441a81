"""CS231n's layers as one loss: a vector-Jacobian product per layer, plus the softmax loss.

Each ``*_backward(dout, cache)`` of the course returns the gradient of
``sum(dout * layer(inputs))`` with respect to the layer's inputs, for an
upstream gradient ``dout``: that sum is this loss's term for the layer, with
``dout`` drawn like any input. The layers' inputs are separate, so each
target is the gradient of its own term. Pure JAX, float64, highest matmul
precision.
"""

import jax
import jax.numpy as jnp

EPS = 1e-5  # batchnorm_forward's default bn_param["eps"]


def _statistics(mu, var):
    return mu, var


def _batchnorm(x, gamma, beta, statistics=_statistics):
    # Training mode: the batch's own mean and (biased) variance, as np.mean and np.var give them.
    mu, var = statistics(jnp.mean(x, axis=0), jnp.var(x, axis=0))
    return gamma * (x - mu) / jnp.sqrt(var + EPS) + beta


def _softmax_loss(scores, y):
    logp = jax.nn.log_softmax(scores, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def loss(x, w, b, dout, x_relu, dout_relu, x_bn, gamma, beta, dout_bn, scores, y, params, tap,
         batchnorm=_batchnorm):
    affine = jnp.matmul(x.reshape(x.shape[0], -1), w, precision=jax.lax.Precision.HIGHEST) + b
    relu = jnp.maximum(tap("relu_in", x_relu), 0.0)
    return (jnp.sum(dout * affine) + jnp.sum(dout_relu * relu)
            + jnp.sum(dout_bn * batchnorm(x_bn, gamma, beta)) + _softmax_loss(scores, y))


def shapes(dims):
    n, d1, d2, m, f, c = (dims[k] for k in ("N", "d1", "d2", "M", "F", "C"))
    return {"x": (n, d1, d2), "w": (d1 * d2, m), "b": (m,), "dout": (n, m), "x_relu": (n, m), "dout_relu": (n, m),
            "x_bn": (n, f), "gamma": (f,), "beta": (f,), "dout_bn": (n, f), "scores": (n, c), "y": (n,)}


# Mistake models (exercise.yaml, mistakes).

def loss_bn_constant_statistics(*args):
    """dx of batch norm with the batch mean and variance taken as constants."""
    return loss(*args, batchnorm=lambda x, g, b: _batchnorm(
        x, g, b, lambda mu, var: (jax.lax.stop_gradient(mu), jax.lax.stop_gradient(var))))


def loss_bn_constant_variance(*args):
    """dx of batch norm with the mean's path kept and the variance's left out."""
    return loss(*args, batchnorm=lambda x, g, b: _batchnorm(x, g, b, lambda mu, var: (mu, jax.lax.stop_gradient(var))))
