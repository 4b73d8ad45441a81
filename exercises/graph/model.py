"""The expression graph f = ((x + y) * z) * x, through its intermediates q and p."""

from bpgrade.mistakes import held_constant as const


def loss(x, y, z, params, tap):
    q = tap("q", x + y)
    p = tap("p", q * z)
    return p * x


# Mistake models (exercise.yaml, mistakes): each has the value of f and the
# derivatives of a student who made one mistake. const(v) is v with no
# derivative, so that a + (b - const(b)) has the value a and the derivative of b.

def loss_direct_path_left_out(x, y, z, params, tap):
    q = tap("q", x + y)
    p = tap("p", q * z)
    return p * const(x)


def loss_local_derivative_at_q(x, y, z, params, tap):
    # df/dq taken as dp/dq alone: the error reaching q skips the factor x.
    q = tap("q", x + y)
    p = tap("p", q * z)
    return const(p * x) + (p - const(p)) + const(p) * (x - const(x))


def loss_product_own_operand(x, y, z, params, tap):
    # dp/dz taken as z (the operand itself) instead of q (the other operand).
    q = tap("q", x + y)
    p = tap("p", const(q * z) + (q - const(q)) * const(z) + (z - const(z)) * const(z))
    return p * x
