"""Correct, one sample and one unit at a time, with a >= mask. FAILS: none"""
import math


def _grads(x, y, p):
    n, d = x.shape
    h = p["w1"].shape[1]
    g = {"w1": [[0.0] * h for _ in range(d)], "b1": [0.0] * h, "w2": [[0.0] for _ in range(h)], "b2": [0.0],
         "x": [[0.0] * d for _ in range(n)]}
    for i in range(n):
        u = [sum(x[i][k] * p["w1"][k][j] for k in range(d)) + p["b1"][j] for j in range(h)]
        a = [max(v, 0.0) for v in u]
        out = sum(a[j] * p["w2"][j][0] for j in range(h)) + p["b2"][0]
        e2 = 2.0 * (out - y[i][0]) / n
        g["b2"][0] += e2
        for j in range(h):
            g["w2"][j][0] += a[j] * e2
            e1 = e2 * p["w2"][j][0] * (1.0 if u[j] >= 0 else 0.0)
            g["b1"][j] += e1
            for k in range(d):
                g["w1"][k][j] += x[i][k] * e1
                g["x"][i][k] += e1 * p["w1"][k][j]
    assert all(math.isfinite(v) for v in g["b1"])
    return g


def grad_w1(x, y, params):
    return _grads(x, y, params)["w1"]


def grad_b1(x, y, params):
    return _grads(x, y, params)["b1"]


def grad_w2(x, y, params):
    return _grads(x, y, params)["w2"]


def grad_b2(x, y, params):
    return _grads(x, y, params)["b2"]


def grad_x(x, y, params):
    return _grads(x, y, params)["x"]
