"""graph: the chain rule on an expression graph.

    q = x + y      p = q * z      f = p * x

Each function takes the three float64 scalars (x, y, z) and returns the
derivative of f with respect to one variable, as a number.
"""


def grad_p(x, y, z):
    """df/dp."""
    raise NotImplementedError


def grad_q(x, y, z):
    """df/dq."""
    raise NotImplementedError


def grad_x(x, y, z):
    """df/dx: x reaches f along two paths."""
    raise NotImplementedError


def grad_y(x, y, z):
    """df/dy."""
    raise NotImplementedError


def grad_z(x, y, z):
    """df/dz."""
    raise NotImplementedError
