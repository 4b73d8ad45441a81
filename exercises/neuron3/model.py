"""The three-neuron network, as a pure JAX function of its scalars."""

import jax

from bpgrade.mistakes import held_constant, with_derivative


def loss(x, y, params, tap):
    z1 = tap("z1", params["w1"] * x + params["b1"])
    a1 = jax.nn.sigmoid(z1)
    z2 = tap("z2", params["w2"] * a1 + params["b2"])
    a2 = jax.nn.sigmoid(z2)
    return (a2 - y) ** 2 / 2


# Mistake models (exercise.yaml, mistakes): the same network as a student who
# makes one known mistake differentiates it.

def _network(x, y, params, tap, hidden=jax.nn.sigmoid, output=jax.nn.sigmoid, layer2=None):
    z1 = tap("z1", params["w1"] * x + params["b1"])
    a1 = hidden(z1)
    z2 = tap("z2", (layer2 or _layer2)(params, a1, x))
    return (output(z2) - y) ** 2 / 2


def _layer2(params, a1, x):
    return params["w2"] * a1 + params["b2"]


def loss_output_derivative_left_out(x, y, params, tap):
    return _network(x, y, params, tap, output=with_derivative(jax.nn.sigmoid, lambda u, g: g))


def _sigmoid_prime(u):
    s = jax.nn.sigmoid(u)
    return s * (1 - s)


def loss_hidden_derivative_at_a1(x, y, params, tap):
    at_a1 = with_derivative(jax.nn.sigmoid, lambda u, g: g * _sigmoid_prime(jax.nn.sigmoid(u)))
    return _network(x, y, params, tap, hidden=at_a1)


def loss_w2_left_out_of_delta1(x, y, params, tap):
    # dz2/da1 = 1 instead of w2; the value and the other derivatives unchanged.
    def layer2(params, a1, x):
        return params["w2"] * held_constant(a1) + a1 - held_constant(a1) + params["b2"]
    return _network(x, y, params, tap, layer2=layer2)


def loss_w2_times_x(x, y, params, tap):
    # dz2/dw2 = x instead of a1.
    def layer2(params, a1, x):
        w2 = params["w2"]
        return held_constant(w2) * a1 + (w2 - held_constant(w2)) * x + params["b2"]
    return _network(x, y, params, tap, layer2=layer2)
