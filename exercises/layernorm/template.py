"""layernorm: gradients through a layer normalisation.

    mu   = mean of x over the d features of each sample        (N, 1)
    var  = mean of (x - mu)**2 over the features                (N, 1)
    xhat = (x - mu) / sqrt(var + 1e-5)                          (N, d)
    out  = gamma * xhat + beta                                  (N, d)
    C    = sum((out - y)**2) / (2 N)

x, y: (N, d); params = {"gamma": (d,), "beta": (d,)}; all float64.
"""

import numpy as np

EPS = 1e-5


def grad_x(x, y, params):
    """dC/dx, shape (N, d)."""
    raise NotImplementedError


def grad_gamma(x, y, params):
    """dC/dgamma, shape (d,)."""
    raise NotImplementedError


def grad_beta(x, y, params):
    """dC/dbeta, shape (d,)."""
    raise NotImplementedError
