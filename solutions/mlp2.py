"""Reference solution of the exercise mlp2, derived by hand.

Forward pass, for N samples (x: (N, d), y: (N, 1)):

    u1 = x @ w1 + b1        (N, h)
    l1 = relu(u1)           (N, h)
    l2 = l1 @ w2 + b2       (N, 1)
    L  = mean((l2 - y)**2)  scalar, the mean over the N samples

Backward pass, one chain-rule step at a time:

    dL/dl2 = 2 (l2 - y) / N                    (N, 1)   output error
    dL/dw2 = l1^T @ dL/dl2                     (h, 1)   input times error
    dL/db2 = sum over samples of dL/dl2        (1,)     bias gradient = error
    dL/dl1 = dL/dl2 @ w2^T                     (N, h)   error sent back through the transposed weights
    dL/du1 = dL/dl1 * relu'(u1)                (N, h)   Hadamard product with the ReLU's derivative
    dL/dw1 = x^T @ dL/du1                      (d, h)
    dL/db1 = sum over samples of dL/du1        (h,)
    dL/dx  = dL/du1 @ w1^T                     (N, d)
"""

import numpy as np


def _forward(x, params):
    u1 = x @ params["w1"] + params["b1"]
    l1 = np.maximum(u1, 0.0)
    l2 = l1 @ params["w2"] + params["b2"]
    return u1, l1, l2


def _errors(x, y, params):
    """dL/dl2 (N, 1), dL/du1 (N, h) and l1 (N, h)."""
    u1, l1, l2 = _forward(x, params)
    d_l2 = 2.0 * (l2 - y) / x.shape[0]
    d_u1 = (d_l2 @ params["w2"].T) * (u1 > 0)
    return d_l2, d_u1, l1


def grad_w1(x, y, params):
    """dL/dw1, shape (d, h)."""
    _, d_u1, _ = _errors(x, y, params)
    return x.T @ d_u1


def grad_b1(x, y, params):
    """dL/db1, shape (h,)."""
    _, d_u1, _ = _errors(x, y, params)
    return d_u1.sum(axis=0)


def grad_w2(x, y, params):
    """dL/dw2, shape (h, 1)."""
    d_l2, _, l1 = _errors(x, y, params)
    return l1.T @ d_l2


def grad_b2(x, y, params):
    """dL/db2, shape (1,)."""
    d_l2, _, _ = _errors(x, y, params)
    return d_l2.sum(axis=0)


def grad_x(x, y, params):
    """dL/dx, shape (N, d)."""
    _, d_u1, _ = _errors(x, y, params)
    return d_u1 @ params["w1"].T
