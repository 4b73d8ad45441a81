"""fastai-backprop, wrong on purpose: b.g summed over the wrong axis."""

FAILS = ['b1', 'b2']
DIAGNOSES = {'b1': 'shape', 'b2': 'shape'}


import torch


def lin(x, w, b):
    return x @ w + b


def relu(x):
    return x.clamp_min(0.)


def lin_grad(inp, out, w, b):
    inp.g = out.g @ w.t()
    w.g = (inp.unsqueeze(-1) * out.g.unsqueeze(1)).sum(0)
    b.g = out.g.sum(1)


def forward_and_backward(inp, targ):
    l1 = lin(inp, w1, b1)
    l2 = relu(l1)
    out = lin(l2, w2, b2)
    diff = out[:, 0] - targ
    loss = diff.pow(2).mean()
    out.g = 2. * diff[:, None] / inp.shape[0]
    lin_grad(l2, out, w2, b2)
    l1.g = (l1 > 0).float() * l2.g
    lin_grad(inp, l1, w1, b1)
