"""fast.ai course22p2, 03_backprop: lin, relu, lin, and the mean squared error of out[:, 0] - targ.

Pure JAX, float64, highest matmul precision.
"""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def _relu(z):
    return jnp.maximum(z, 0.0)


def loss(x, targ, params, tap, relu=_relu):
    l1 = tap("l1", jnp.matmul(x, params["w1"], precision=jax.lax.Precision.HIGHEST) + params["b1"])
    out = jnp.matmul(relu(l1), params["w2"], precision=jax.lax.Precision.HIGHEST) + params["b2"]
    return jnp.mean((out[:, 0] - targ) ** 2)


# Mistake model (exercise.yaml, mistakes): l1.g without the ReLU's mask.

# The ReLU whose mask was left out: its gradient passed back unchanged.
_relu_unmasked = with_derivative(_relu, lambda z, g: g)


def loss_unmasked(x, targ, params, tap):
    return loss(x, targ, params, tap, relu=_relu_unmasked)
