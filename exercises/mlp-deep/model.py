"""An L-layer sigmoid network with a quadratic cost, over a list of layer dicts."""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def shapes(dims):
    widths = [dims[f"n{i}"] for i in range(dims["L"] + 1)]
    return {"x": (dims["N"], widths[0]), "y": (dims["N"], widths[-1]),
            "layers": [{"w": (n_in, n_out), "b": (n_out,)} for n_in, n_out in zip(widths[:-1], widths[1:])]}


def loss(x, y, params, tap, hidden=jax.nn.sigmoid):
    """``hidden`` is the activation of every layer but the last (a mistake model changes it)."""
    a = x
    last = len(params["layers"]) - 1
    for i, layer in enumerate(params["layers"]):
        z = tap("z", jnp.matmul(a, layer["w"], precision=jax.lax.Precision.HIGHEST) + layer["b"], i)
        a = jax.nn.sigmoid(z) if i == last else hidden(z)
    return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]


# Mistake models (exercise.yaml, mistakes): σ' wrong in the hidden layers (BP2).

def loss_hidden_derivative_left_out(x, y, params, tap):
    return loss(x, y, params, tap, hidden=with_derivative(jax.nn.sigmoid, lambda z, g: g))


def loss_hidden_derivative_doubled(x, y, params, tap):
    def doubled(z, g):
        s = jax.nn.sigmoid(z)
        return g * 2 * s * (1 - s)
    return loss(x, y, params, tap, hidden=with_derivative(jax.nn.sigmoid, doubled))
