"""The expression graph f = ((x + y) * z) * x, through its intermediates q and p."""


def loss(x, y, z, params, tap):
    q = tap("q", x + y)
    p = tap("p", q * z)
    return p * x
