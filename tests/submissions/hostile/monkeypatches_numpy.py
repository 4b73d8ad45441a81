"""Makes NumPy's comparisons always agree, then returns zeros. EXPECT: ok, no credit"""
import numpy as np

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.isfinite = lambda a: np.ones(np.shape(a), bool)
np.abs = lambda a: np.zeros(np.shape(a))


def grad_w1(x, y, params):
    return np.zeros_like(params["w1"])


def grad_b1(x, y, params):
    return np.zeros_like(params["b1"])


def grad_w2(x, y, params):
    return np.zeros_like(params["w2"])


def grad_b2(x, y, params):
    return np.zeros_like(params["b2"])


def grad_x(x, y, params):
    return np.zeros_like(x)
