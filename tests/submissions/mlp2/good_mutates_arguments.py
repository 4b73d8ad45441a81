"""Correct, but changes its arguments in place after using them. FAILS: none"""
import numpy as np


def _back(x, y, p):
    u1 = x @ p["w1"] + p["b1"]
    l1 = np.maximum(u1, 0)
    e2 = 2 * (l1 @ p["w2"] + p["b2"] - y) / x.shape[0]
    e1 = (e2 @ p["w2"].T) * (u1 > 0)
    return l1, e2, e1


def _spoil(x, y, p):
    x *= 3.0
    y[:] = 0.0
    for v in p.values():
        v += 1.0
    p["w1"] = None


def grad_w1(x, y, params):
    g = x.T @ _back(x, y, params)[2]
    _spoil(x, y, params)
    return g


def grad_b1(x, y, params):
    g = _back(x, y, params)[2].sum(0)
    _spoil(x, y, params)
    return g


def grad_w2(x, y, params):
    l1, e2, _ = _back(x, y, params)
    _spoil(x, y, params)
    return l1.T @ e2


def grad_b2(x, y, params):
    g = _back(x, y, params)[1].sum(0)
    _spoil(x, y, params)
    return g


def grad_x(x, y, params):
    g = _back(x, y, params)[2] @ params["w1"].T
    _spoil(x, y, params)
    return g
