"""``bpgrade new``: a new pack folder that passes its own self-test, to edit from there.

The scaffold is a complete small exercise (one sigmoid layer under a quadratic
cost, with its delta, weight and bias gradients), written the way
``docs/authoring.md`` describes, so that an instructor starts from something
that works and changes one file at a time.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BpgradeError
from .packs import _PACK_NAME

_FILES = {
    "exercise.yaml": '''\
# {name}: one sigmoid layer under a quadratic cost. Edit it into your exercise;
# docs/authoring.md documents every key. Check it with: bpgrade selftest -e {path}
name: {name}
title: One sigmoid layer under a quadratic cost

dims:                 # symbolic sizes and the range [min, max] the cases draw them from
  N: [1, 5]
  d: [1, 4]
  k: [1, 3]
inputs:               # the graded functions' arguments, in order, then params
  x: [N, d]
  y: [N, k]
params:
  w: [d, k]
  b: [k]
model: model.py       # the network: a pure JAX function

targets:              # what students compute; grad_<name>(x, y, params) unless function says otherwise
  delta: {{of: z, function: delta, readme: The gradients}}   # an intermediate that model.py taps
  w: {{points: 1, readme: The gradients}}                     # readme: the README heading to revisit
  b: {{points: 1, readme: The gradients}}

cases:
  public_seed: 0
  # hidden_seed: 4242   # a second case set, graded too but reported only as pass/fail counts
  shapes: 6
  per_shape: 3
  include:
    - {{N: 1, d: 3, k: 2}}
    - {{N: 4, d: 2, k: 3}}

tolerance: {{rtol: 1.0e-9, atol: 1.0e-12}}
timeout: 10

mistakes:             # mistake models: a failing target that matches one is told this text
  derivative_left_out:
    loss: loss_derivative_left_out    # a function of model.py with the signature of loss
    code: activation_derivative
    text: "σ'(z) is left out of the delta: δ = (a − y)/N ⊙ σ'(z)."
    readme: The gradients
''',
    "model.py": '''\
"""The network of {name}, as a pure JAX function (it runs in the grader only)."""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def loss(x, y, params, tap, activation=jax.nn.sigmoid):
    z = tap("z", jnp.matmul(x, params["w"], precision=jax.lax.Precision.HIGHEST) + params["b"])
    a = activation(z)
    return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]


def loss_derivative_left_out(x, y, params, tap):
    """The mistake model: the sigmoid with its derivative taken as 1."""
    return loss(x, y, params, tap, activation=with_derivative(jax.nn.sigmoid, lambda z, g: g))
''',
    "template.py": '''\
"""{name}: gradients of one sigmoid layer under a quadratic cost.

    z = x @ w + b      a = sigmoid(z)      C = sum((a - y)**2) / (2 N)

x: (N, d), y: (N, k), params = {{"w": (d, k), "b": (k,)}}, all float64.
"""

import numpy as np


def delta(x, y, params):
    """dC/dz, shape (N, k)."""
    raise NotImplementedError


def grad_w(x, y, params):
    """dC/dw, shape (d, k)."""
    raise NotImplementedError


def grad_b(x, y, params):
    """dC/db, shape (k,)."""
    raise NotImplementedError
''',
    "README.md": '''\
# {name}

## The network

    z = x w + b        a = σ(z)        C = Σ (a − y)² / (2N)

## The gradients

- δ = ∂C/∂z = (a − y)/N ⊙ σ'(z), with σ' = σ(1 − σ)
- ∂C/∂w = xᵀ δ
- ∂C/∂b = Σ over samples of δ

Write `delta`, `grad_w` and `grad_b`, each taking `(x, y, params)`.
''',
    "selftest/reference.py": '''\
"""Reference solution of {name}: it must pass every target."""

import numpy as np


def delta(x, y, params):
    a = 1.0 / (1.0 + np.exp(-(x @ params["w"] + params["b"])))
    return (a - y) / x.shape[0] * a * (1 - a)


def grad_w(x, y, params):
    return x.T @ delta(x, y, params)


def grad_b(x, y, params):
    return delta(x, y, params).sum(axis=0)
''',
    "selftest/derivative_left_out.py": '''\
"""{name}, wrong on purpose: sigma'(z) left out of the delta."""

import numpy as np

FAILS = ["delta", "w", "b"]
DIAGNOSES = {{"delta": "activation_derivative", "w": "activation_derivative", "b": "activation_derivative"}}


def delta(x, y, params):
    a = 1.0 / (1.0 + np.exp(-(x @ params["w"] + params["b"])))
    return (a - y) / x.shape[0]


def grad_w(x, y, params):
    return x.T @ delta(x, y, params)


def grad_b(x, y, params):
    return delta(x, y, params).sum(axis=0)
''',
}


def new_pack(name: str, parent: Path) -> Path:
    """Write the scaffold of pack ``name`` into ``parent/name``; returns that folder.

    Raises:
      BpgradeError: a name that is not a pack name, or a folder that exists.
    """
    if not _PACK_NAME.match(name):
        raise BpgradeError(f"{name!r} is not a pack name: letters, digits, _ and -, not starting with a digit or -")
    folder = parent / name
    if folder.exists():
        raise BpgradeError(f"{folder} already exists")
    try:
        (folder / "selftest").mkdir(parents=True)
        for relative, text in _FILES.items():
            (folder / relative).write_text(text.format(name=name, path=folder), encoding="utf-8")
    except OSError as e:
        raise BpgradeError(f"cannot write {folder}: {e.strerror}") from None
    return folder
