"""CS231n assignment 2: the layers of cs231n/layers.py that bpgrade grades (cs231n-layers).

Fill in the forward and backward passes; keep the names and signatures. Each
backward pass receives the upstream gradient `dout` and the `cache` its forward
pass returned.
"""

from builtins import range

import numpy as np


def affine_forward(x, w, b):
    """x: (N, d_1, ..., d_k), w: (D, M), b: (M,) -> out (N, M), cache."""
    out = None
    # TODO: reshape each input into a row of length D, then apply the affine map.
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """dout: (N, M) -> dx (N, d_1, ..., d_k), dw (D, M), db (M,)."""
    x, w, b = cache
    dx, dw, db = None, None, None
    # TODO
    return dx, dw, db


def relu_forward(x):
    """x: any shape -> out (same shape), cache."""
    out = None
    # TODO
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """dout: same shape as x -> dx."""
    dx, x = None, cache
    # TODO
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """x: (N, D), gamma, beta: (D,), bn_param: {"mode": "train" or "test", "eps", "momentum",
    "running_mean", "running_var"} -> out (N, D), cache."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        pass  # TODO: normalise with the batch's statistics; update the running averages.
    elif mode == "test":
        pass  # TODO: normalise with the running averages.
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """dout: (N, D) -> dx (N, D), dgamma (D,), dbeta (D,); through the graph, node by node."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients as batchnorm_backward, from the simplified expression."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    return dx, dgamma, dbeta


def softmax_loss(x, y):
    """x: (N, C) scores, y: (N,) integer labels in 0..C-1 -> loss (scalar), dx (N, C)."""
    loss, dx = None, None
    # TODO
    return loss, dx
