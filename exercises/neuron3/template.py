"""neuron3: the four fundamental equations on the three-neuron network.

    z1 = w1 x + b1     a1 = sigmoid(z1)
    z2 = w2 a1 + b2    a2 = sigmoid(z2)      C = (a2 - y)^2 / 2

Every argument is a float64 NumPy scalar (shape ()); params is the dict
{"w1", "b1", "w2", "b2"}. Return a float (or a shape-() array).
Use NumPy only: deriving the gradients by hand is the exercise.
"""

import numpy as np


def delta2(x, y, params):
    """(BP1) the output error dC/dz2."""
    raise NotImplementedError


def delta1(x, y, params):
    """(BP2) the hidden error dC/dz1."""
    raise NotImplementedError


def grad_b2(x, y, params):
    """(BP3) dC/db2."""
    raise NotImplementedError


def grad_w2(x, y, params):
    """(BP4) dC/dw2."""
    raise NotImplementedError


def grad_b1(x, y, params):
    """dC/db1."""
    raise NotImplementedError


def grad_w1(x, y, params):
    """dC/dw1."""
    raise NotImplementedError
