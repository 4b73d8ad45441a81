"""graph, wrong on purpose: only the path through q counted for df/dx."""

FAILS = ["x"]
DIAGNOSES = {"x": "chain_rule"}


def grad_p(x, y, z):
    return x


def grad_q(x, y, z):
    return grad_p(x, y, z) * z


def grad_x(x, y, z):
    p = (x + y) * z
    return grad_q(x, y, z)          # both paths: direct, and through q


def grad_y(x, y, z):
    return grad_q(x, y, z)


def grad_z(x, y, z):
    return grad_p(x, y, z) * (x + y)
