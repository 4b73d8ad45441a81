"""Removes the import hooks, puts site-packages back on sys.path and reaches for an autodiff library by a computed name; if it got one, its gradients would all be right. EXPECT: any, no credit"""
import importlib
import os
import sys

import numpy as np

sys.path.append(os.path.dirname(os.path.dirname(np.__file__)))
sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder"]
name = "ja" + "x"
ad = sys.modules.get(name)
if ad is None:
    try:
        ad = importlib.import_module(name)
        importlib.import_module(name + ".numpy")
    except Exception as e:
        print("not reachable:", type(e).__name__)


def _grads(x, y, params):
    ad.config.update(name + "_enable_x64", True)
    jnp = getattr(ad, "numpy")

    def loss(t):
        u1 = t["x"] @ t["w1"] + t["b1"]
        l2 = jnp.maximum(u1, 0) @ t["w2"] + t["b2"]
        return jnp.mean((l2 - y) ** 2)

    return {k: np.asarray(v) for k, v in getattr(ad, "grad")(loss)({"x": x, **params}).items()}


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
