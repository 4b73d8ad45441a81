"""Stand-in for the week-3 notebook's testCases_v2, written for bpgrade: inputs of the shapes the
notebook's test cells expect (they are not graded)."""

import numpy as np

_rng = np.random.default_rng(3)


def _parameters(n_x=2, n_h=4, n_y=1):
    return {"W1": _rng.normal(size=(n_h, n_x)), "b1": _rng.normal(size=(n_h, 1)),
            "W2": _rng.normal(size=(n_y, n_h)), "b2": _rng.normal(size=(n_y, 1))}


def layer_sizes_test_case():
    return _rng.normal(size=(5, 3)), _rng.normal(size=(2, 3))


def initialize_parameters_test_case():
    return 2, 4, 1


def forward_propagation_test_case():
    return _rng.normal(size=(2, 3)), _parameters()


def compute_cost_test_case():
    return _rng.uniform(size=(1, 3)), (_rng.uniform(size=(1, 3)) > 0.5).astype(int), _parameters()


def backward_propagation_test_case():
    X, parameters = forward_propagation_test_case()
    A1 = np.tanh(parameters["W1"] @ X + parameters["b1"])
    cache = {"A1": A1, "A2": 1 / (1 + np.exp(-(parameters["W2"] @ A1 + parameters["b2"])))}
    return parameters, cache, X, (_rng.uniform(size=(1, 3)) > 0.5).astype(int)


def update_parameters_test_case():
    parameters = _parameters()
    grads = {"d" + name: _rng.normal(size=value.shape) for name, value in parameters.items()}
    return parameters, grads


def nn_model_test_case():
    return _rng.normal(size=(2, 3)), (_rng.uniform(size=(1, 3)) > 0.5).astype(int)


def predict_test_case():
    return _parameters(), _rng.normal(size=(2, 3))
