"""CS231n (2020 on): cs231n/classifiers/fc_net.py, the part bpgrade grades (cs231n-twolayer).

Submit the assignment folder (or its .zip): this file imports the layers you
wrote in cs231n/layers.py and cs231n/layer_utils.py. Keep the class's name and
loss's signature.
"""

from builtins import object

import numpy as np

from ..layers import *
from ..layer_utils import *


class TwoLayerNet(object):
    """affine - relu - affine - softmax, with L2 regularisation 0.5 * reg * (sum W1^2 + sum W2^2)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        """X: (N, d_1, ..., d_k), y: (N,) integer labels. Returns the scores when y is None, else
        (loss, grads), grads holding W1, b1, W2 and b2."""
        scores = None
        # TODO: the forward pass, with affine_relu_forward and affine_forward.
        if y is None:
            return scores
        loss, grads = 0, {}
        # TODO: softmax_loss, the regularisation, and the backward pass.
        return loss, grads
