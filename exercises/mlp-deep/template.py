"""mlp-deep: backpropagation through L sigmoid layers, in matrix form.

    a_0 = x                      (N, n_0)
    z_l = a_{l-1} @ w_l + b_l    (N, n_l)      l = 1..L
    a_l = sigmoid(z_l)
    C   = sum((a_L - y)**2) / (2 N)

x: (N, n_0), y: (N, n_L); params = {"layers": [{"w": (n_{l-1}, n_l), "b": (n_l,)}, ...]}.
The depth L = len(params["layers"]) varies from case to case.
"""

import numpy as np


def grad_delta(x, y, params):
    """The deltas dC/dz_l: a list of L arrays, the l-th of shape (N, n_l)."""
    raise NotImplementedError


def grad_layers(x, y, params):
    """The gradients of every layer: a list of L dicts {"w": dC/dw_l, "b": dC/db_l}."""
    raise NotImplementedError
