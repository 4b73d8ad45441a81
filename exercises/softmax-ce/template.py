"""softmax-ce: gradients of a linear layer with softmax and cross-entropy.

    z = x @ W + b          (N, k)
    p = softmax(z)         by rows
    L = -mean over the N samples of sum_k y[n, k] log p[n, k]

x: (N, d), y: (N, k) one-hot, params = {"W": (d, k), "b": (k,)}, all float64.
"""

import numpy as np


def grad_z(x, y, params):
    """dL/dz, shape (N, k)."""
    raise NotImplementedError


def grad_W(x, y, params):
    """dL/dW, shape (d, k)."""
    raise NotImplementedError


def grad_b(x, y, params):
    """dL/db, shape (k,)."""
    raise NotImplementedError


def grad_x(x, y, params):
    """dL/dx, shape (N, d)."""
    raise NotImplementedError
