"""Reference solution of graph: backwards through q = x + y, p = q * z, f = p * x."""


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
    return grad_p(x, y, z) * (x + y)
