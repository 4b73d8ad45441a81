"""How CS231n's checks call layers.py: forward for the cache, then backward with the upstream gradient.

Each function gets the student's module and one case's arguments by name, and
returns what it graded by key (the target's name after the dot).
"""


def affine_backward(student, x, w, b, dout, **case):
    _, cache = student.affine_forward(x, w, b)
    dx, dw, db = student.affine_backward(dout, cache)
    return {"dx": dx, "dw": dw, "db": db}


def relu_backward(student, x_relu, dout_relu, **case):
    _, cache = student.relu_forward(x_relu)
    return {"dx": student.relu_backward(dout_relu, cache)}


def batchnorm_backward(student, x_bn, gamma, beta, dout_bn, **case):
    _, cache = student.batchnorm_forward(x_bn, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = student.batchnorm_backward(dout_bn, cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def batchnorm_backward_alt(student, x_bn, gamma, beta, dout_bn, **case):
    _, cache = student.batchnorm_forward(x_bn, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = student.batchnorm_backward_alt(dout_bn, cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def softmax_loss(student, scores, y, **case):
    _, dx = student.softmax_loss(scores, y)
    return {"dx": dx}
