"""graph, wrong on purpose: df/dq as the local derivative dp/dq alone, without df/dp."""

FAILS = ["q", "x", "y"]
DIAGNOSES = {"q": "chain_rule", "x": "chain_rule", "y": "chain_rule"}


def grad_p(x, y, z):
    return x


def grad_q(x, y, z):
    return z


def grad_x(x, y, z):
    p = (x + y) * z
    return p + grad_q(x, y, z)          # both paths: direct, and through q


def grad_y(x, y, z):
    return grad_q(x, y, z)


def grad_z(x, y, z):
    return grad_p(x, y, z) * (x + y)
