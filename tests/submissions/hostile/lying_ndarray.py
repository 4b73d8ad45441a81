"""Returns an ndarray subclass that claims equality and runs code when unpickled. EXPECT: ok, no credit"""
import os

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __abs__(self):
        return np.zeros(self.shape).view(Liar)

    def __sub__(self, other):
        return np.zeros(self.shape).view(Liar)

    def __reduce__(self):
        return (os.system, ("touch /tmp/bpgrade-pwned",))


def _liar(shape):
    return np.zeros(shape).view(Liar)


def grad_w1(x, y, params):
    return _liar(params["w1"].shape)


def grad_b1(x, y, params):
    return _liar(params["b1"].shape)


def grad_w2(x, y, params):
    return _liar(params["w2"].shape)


def grad_b2(x, y, params):
    return _liar(params["b2"].shape)


def grad_x(x, y, params):
    return _liar(x.shape)
