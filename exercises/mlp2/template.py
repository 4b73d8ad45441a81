"""mlp2: the gradients of a two-layer ReLU network with an MSE loss, by hand.

    u1 = x @ w1 + b1          x: (N, d)   w1: (d, h)   b1: (h,)
    l1 = relu(u1)
    l2 = l1 @ w2 + b2         w2: (h, 1)  b2: (1,)
    L  = mean((l2 - y)**2)    y: (N, 1)   (the mean over the N samples)

Every function gets float64 NumPy arrays: x (N, d), y (N, 1), and params, a
dict with the keys "w1", "b1", "w2" and "b2". Each returns one gradient of L
as a float64 array of exactly the shape given. Use NumPy only: automatic
differentiation (jax, torch, autograd, ...) earns no credit.

Check your work with:  bpgrade check THIS_FILE.py -e mlp2
"""

import numpy as np


def grad_w1(x, y, params):
    """dL/dw1, shape (d, h)."""
    raise NotImplementedError


def grad_b1(x, y, params):
    """dL/db1, shape (h,)."""
    raise NotImplementedError


def grad_w2(x, y, params):
    """dL/dw2, shape (h, 1)."""
    raise NotImplementedError


def grad_b2(x, y, params):
    """dL/db2, shape (1,)."""
    raise NotImplementedError


def grad_x(x, y, params):
    """dL/dx, shape (N, d)."""
    raise NotImplementedError
