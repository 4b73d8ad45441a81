"""CS231n assignment 1 (2017-2019): cs231n/classifiers/neural_net.py, the part bpgrade grades
(cs231n-neuralnet). Keep the class's name and loss's signature."""

from __future__ import print_function

import numpy as np


class TwoLayerNet(object):
    """input - fully connected layer - ReLU - fully connected layer - softmax."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """X: (N, D), y: (N,) integer labels, reg: the L2 strength. Returns the scores (N, C) when y
        is None, else (loss, grads), grads holding W1, b1, W2 and b2."""
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, D = X.shape
        scores = None
        # TODO: the forward pass.
        if y is None:
            return scores
        loss = None
        # TODO: the softmax loss, averaged, plus reg * (sum W1^2 + sum W2^2).
        grads = {}
        # TODO: the backward pass.
        return loss, grads
