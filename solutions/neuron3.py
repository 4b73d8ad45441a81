"""Reference solution of neuron3: the four fundamental equations, with scalars."""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _forward(x, params):
    z1 = params["w1"] * x + params["b1"]
    a1 = _sigmoid(z1)
    z2 = params["w2"] * a1 + params["b2"]
    return z1, a1, z2, _sigmoid(z2)


def delta2(x, y, params):
    _, _, z2, a2 = _forward(x, params)
    return (a2 - y) * a2 * (1 - a2)                   # (BP1)


def delta1(x, y, params):
    _, a1, _, _ = _forward(x, params)
    return params["w2"] * delta2(x, y, params) * a1 * (1 - a1)   # (BP2)


def grad_b2(x, y, params):
    return delta2(x, y, params)                       # (BP3)


def grad_w2(x, y, params):
    _, a1, _, _ = _forward(x, params)
    return a1 * delta2(x, y, params)                  # (BP4)


def grad_b1(x, y, params):
    return delta1(x, y, params)


def grad_w1(x, y, params):
    return x * delta1(x, y, params)
