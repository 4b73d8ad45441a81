FAILS = ["u", "w", "c", "x"]  # the derivative of tanh taken as 1 - tanh, not 1 - tanh**2
DIAGNOSES = {"u": "activation_derivative", "w": "activation_derivative", "c": "activation_derivative",
             "x": "activation_derivative"}

import numpy as np


def grad_u(x, y, params):
    out = np.tanh(x @ params["w"] + params["c"])
    return 2 * (out - y) * (1 - out) / x.shape[0]


def grad_w(x, y, params):
    return x.T @ grad_u(x, y, params)


def grad_c(x, y, params):
    return grad_u(x, y, params).sum(axis=0)


def grad_x(x, y, params):
    return grad_u(x, y, params) @ params["w"].T
