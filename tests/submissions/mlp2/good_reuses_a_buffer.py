"""Correct, but returns the same preallocated buffer from every call of grad_b2. FAILS: none"""
import numpy as np

_BUFFER = np.zeros(1)


def _back(x, y, p):
    u1 = x @ p["w1"] + p["b1"]
    l1 = np.maximum(u1, 0)
    e2 = 2 * (l1 @ p["w2"] + p["b2"] - y) / x.shape[0]
    e1 = (e2 @ p["w2"].T) * (u1 > 0)
    return l1, e2, e1


def grad_w1(x, y, params):
    return x.T @ _back(x, y, params)[2]


def grad_b1(x, y, params):
    return _back(x, y, params)[2].sum(0)


def grad_w2(x, y, params):
    l1, e2, _ = _back(x, y, params)
    return l1.T @ e2


def grad_b2(x, y, params):
    _BUFFER[:] = _back(x, y, params)[1].sum(0)
    return _BUFFER


def grad_x(x, y, params):
    return _back(x, y, params)[2] @ params["w1"].T
