"""graph, wrong on purpose: the derivative of a product taken as its own operand."""

FAILS = ["z"]
DIAGNOSES = {"z": "mistake"}


def grad_p(x, y, z):
    return x


def grad_q(x, y, z):
    return grad_p(x, y, z) * z


def grad_x(x, y, z):
    p = (x + y) * z
    return p + grad_q(x, y, z)          # both paths: direct, and through q


def grad_y(x, y, z):
    return grad_q(x, y, z)


def grad_z(x, y, z):
    return grad_p(x, y, z) * z
