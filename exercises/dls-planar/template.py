"""DLS course 1 week 3: the functions of the notebook that bpgrade grades (dls-planar).

Column-major: X is (n_x, m), Y is (1, m). Keep the names and signatures; a
notebook submission defines the same functions in its cells.
"""

import numpy as np

from planar_utils import sigmoid


def forward_propagation(X, parameters):
    """Returns A2, the sigmoid output (1, m), and cache, a dict holding Z1, A1, Z2 and A2."""
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    # YOUR CODE STARTS HERE
    Z1 = A1 = Z2 = A2 = None
    # YOUR CODE ENDS HERE
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache


def backward_propagation(parameters, cache, X, Y):
    """Returns grads, a dict holding dW1, db1, dW2 and db2, each of its parameter's shape."""
    m = X.shape[1]
    W1, W2 = parameters["W1"], parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    # YOUR CODE STARTS HERE
    dW1 = db1 = dW2 = db2 = None
    # YOUR CODE ENDS HERE
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
