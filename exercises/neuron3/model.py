"""The three-neuron network, as a pure JAX function of its scalars."""

import jax


def loss(x, y, params, tap):
    z1 = tap("z1", params["w1"] * x + params["b1"])
    a1 = jax.nn.sigmoid(z1)
    z2 = tap("z2", params["w2"] * a1 + params["b2"])
    a2 = jax.nn.sigmoid(z2)
    return (a2 - y) ** 2 / 2
