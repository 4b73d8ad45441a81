"""How CS231n's two_layer_net notebook (2017-2019) calls neural_net.py: a TwoLayerNet whose weights
are set (its __init__, which draws random ones, is not run), then loss(X, y, reg)."""


def loss(student, X, y, reg, params):
    net = object.__new__(student.TwoLayerNet)
    net.params = dict(params)
    _, grads = net.loss(X, y=y, reg=float(reg))
    return grads
