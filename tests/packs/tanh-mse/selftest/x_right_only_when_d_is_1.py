FAILS = ["x"]  # w summed instead of a matrix product: right only when d = 1
DIAGNOSES = {"x": "shape"}

import numpy as np


def grad_u(x, y, params):
    out = np.tanh(x @ params["w"] + params["c"])
    return 2 * (out - y) * (1 - out ** 2) / x.shape[0]


def grad_w(x, y, params):
    return x.T @ grad_u(x, y, params)


def grad_c(x, y, params):
    return grad_u(x, y, params).sum(axis=0)


def grad_x(x, y, params):
    return grad_u(x, y, params) * params["w"].sum()
