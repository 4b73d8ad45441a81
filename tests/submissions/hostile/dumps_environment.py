"""Puts its whole environment into an error message. EXPECT: ok"""
import os


def grad_w1(x, y, params):
    raise RuntimeError("ENV " + repr(dict(os.environ)))
