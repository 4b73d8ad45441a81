"""Raises and returns text that no UTF-8 file, terminal or database takes: a lone surrogate, terminal escapes. EXPECT: ok, no credit"""


def grad_w1(x, y, params):
    raise ValueError("boom \ud800 \x1b]0;owned\x07\x1b[2J")


def grad_b1(x, y, params):
    return type("Bad\udcff\x1b[2J", (), {})()


def grad_w2(x, y, params):
    return {"\ud800": x}
