"""Stand-in for the week-3 notebook's planar_utils, written for bpgrade: the real sigmoid that
students' code calls, a flower-shaped data set, and plots that draw nothing."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def plot_decision_boundary(model, X, y):
    """Draws nothing: grading shows no plots."""


def load_planar_dataset(m=400):
    """A two-class flower of ``m`` points: X (2, m), Y (1, m) of 0 and 1."""
    rng = np.random.default_rng(1)
    per_class = m // 2
    X, Y = np.zeros((m, 2)), np.zeros((m, 1), dtype="uint8")
    for label in range(2):
        rows = range(per_class * label, per_class * (label + 1))
        angle = np.linspace(label * 3.12, (label + 1) * 3.12, per_class) + rng.normal(0, 0.2, per_class)
        radius = 4 * np.sin(4 * angle) + rng.normal(0, 0.2, per_class)
        X[rows] = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
        Y[rows] = label
    return X.T, Y.T


def load_extra_datasets(n=200):
    """Five small two-class data sets, each (X (n, 2), Y (n,))."""
    rng = np.random.default_rng(2)
    return tuple((rng.normal(size=(n, 2)), rng.integers(0, 2, n)) for _ in range(5))
