"""Reference solution of mlp-deep: the four equations, layer by layer."""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _deltas(x, y, params):
    """The deltas (N, n_l) and the activations a_0..a_L."""
    activations, a = [x], x
    for layer in params["layers"]:
        a = _sigmoid(a @ layer["w"] + layer["b"])
        activations.append(a)
    a = activations[-1]
    deltas = [(a - y) / x.shape[0] * a * (1 - a)]                    # (BP1)
    for l in range(len(params["layers"]) - 1, 0, -1):
        a = activations[l]
        deltas.insert(0, (deltas[0] @ params["layers"][l]["w"].T) * a * (1 - a))   # (BP2)
    return deltas, activations


def grad_delta(x, y, params):
    return _deltas(x, y, params)[0]


def grad_layers(x, y, params):
    deltas, activations = _deltas(x, y, params)
    return [{"w": a.T @ d, "b": d.sum(axis=0)}                       # (BP4), (BP3)
            for a, d in zip(activations[:-1], deltas)]
