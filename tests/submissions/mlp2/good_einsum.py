"""Correct, written with einsum. FAILS: none"""
import numpy as np


def _back(x, y, p):
    u1 = np.einsum("nd,dh->nh", x, p["w1"]) + p["b1"]
    l1 = np.maximum(u1, 0)
    l2 = np.einsum("nh,ho->no", l1, p["w2"]) + p["b2"]
    e2 = 2 * (l2 - y) / len(x)
    e1 = np.einsum("no,ho->nh", e2, p["w2"]) * (u1 > 0)
    return l1, e2, e1


def grad_w1(x, y, params):
    return np.einsum("nd,nh->dh", x, _back(x, y, params)[2])


def grad_b1(x, y, params):
    return np.einsum("nh->h", _back(x, y, params)[2])


def grad_w2(x, y, params):
    l1, e2, _ = _back(x, y, params)
    return np.einsum("nh,no->ho", l1, e2)


def grad_b2(x, y, params):
    return np.einsum("no->o", _back(x, y, params)[1])


def grad_x(x, y, params):
    return np.einsum("nh,dh->nd", _back(x, y, params)[2], params["w1"])
