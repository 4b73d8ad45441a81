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


#: ``bpgrade new --harness``: the same layer graded in a course's interface, a forward pass that
#: returns a cache and a backward pass that takes the upstream gradient, called by a harness.
_HARNESS_FILES = {
    "exercise.yaml": '''\
# {name}: a course's sigmoid layer, graded in the course's interface: sigmoid_forward(x, w, b)
# returns (out, cache), sigmoid_backward(dout, cache) returns (dx, dw, db). harness.py calls them;
# docs/authoring.md documents every key. Check it with: bpgrade selftest -e {path}
name: {name}
title: A sigmoid layer's backward pass

dims:
  N: [1, 5]
  d: [1, 4]
  k: [1, 3]
inputs:               # passed to harness.py's functions by name
  x: [N, d]
  w: [d, k]
  b: [k]
  dout: [N, k]        # the upstream gradient: each target is d sum(dout * out) / d input
params: {{}}
model: model.py
harness: harness.py   # how the course calls the student's code
# modules: {{course_utils: support/course_utils.py}}   # helpers the students' files import
# display_only: [matplotlib]                          # modules that stand in as doing nothing

targets:              # sigmoid_backward.dx: key dx of what harness.py's sigmoid_backward returns
  sigmoid_backward.dx: {{of: x, readme: The backward pass}}
  sigmoid_backward.dw: {{of: w, readme: The backward pass}}
  sigmoid_backward.db: {{of: b, readme: The backward pass}}

cases:
  public_seed: 0
  shapes: 6
  per_shape: 3

tolerance: {{rtol: 1.0e-9, atol: 1.0e-12}}
timeout: 10

mistakes:
  derivative_left_out:
    loss: loss_derivative_left_out
    code: activation_derivative
    text: "σ'(z) is left out: the error at z is dout ⊙ σ(z)(1 − σ(z))."
    readme: The backward pass
''',
    "model.py": '''\
"""The layer of {name} as a vector-Jacobian product: the gradient of sum(dout * out) with respect
to each input is what sigmoid_backward(dout, cache) returns. Pure JAX; it runs in the grader only."""

import jax
import jax.numpy as jnp

from bpgrade.mistakes import with_derivative


def loss(x, w, b, dout, params, tap, activation=jax.nn.sigmoid):
    out = activation(jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST) + b)
    return jnp.sum(dout * out)


def loss_derivative_left_out(x, w, b, dout, params, tap):
    return loss(x, w, b, dout, params, tap, activation=with_derivative(jax.nn.sigmoid, lambda z, g: g))
''',
    "harness.py": '''\
"""How the course calls a student's code. Each function gets the student's module (a name they did
not define makes its targets "missing") and one case's arguments by name, and returns what it
grades by key. It runs in the sandbox, beside the submission; the student's own lines are quoted
in feedback, never these."""


def sigmoid_backward(student, x, w, b, dout, **case):
    _, cache = student.sigmoid_forward(x, w, b)
    dx, dw, db = student.sigmoid_backward(dout, cache)
    return {{"dx": dx, "dw": dw, "db": db}}
''',
    "template.py": '''\
"""{name}: a sigmoid layer, out = sigmoid(x @ w + b), forward and backward."""

import numpy as np


def sigmoid_forward(x, w, b):
    """x: (N, d), w: (d, k), b: (k,) -> out (N, k), cache."""
    raise NotImplementedError


def sigmoid_backward(dout, cache):
    """dout: (N, k), the upstream gradient -> dx (N, d), dw (d, k), db (k,)."""
    raise NotImplementedError
''',
    "README.md": '''\
# {name}

## The backward pass

    z = x w + b        out = σ(z)

Given the upstream gradient `dout = ∂L/∂out`: `dz = dout ⊙ σ(z)(1 − σ(z))`, `dx = dz wᵀ`,
`dw = xᵀ dz`, `db = Σ over samples of dz`.
''',
    "selftest/reference.py": '''\
"""Reference solution of {name}: it must pass every target."""

import numpy as np


def sigmoid_forward(x, w, b):
    out = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    return out, (x, w, out)


def sigmoid_backward(dout, cache):
    x, w, out = cache
    dz = dout * out * (1 - out)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)
''',
    "selftest/derivative_left_out.py": '''\
"""{name}, wrong on purpose: sigma'(z) left out."""

import numpy as np

FAILS = ["sigmoid_backward.dx", "sigmoid_backward.dw", "sigmoid_backward.db"]
DIAGNOSES = {{"sigmoid_backward.dx": "activation_derivative", "sigmoid_backward.dw": "activation_derivative",
             "sigmoid_backward.db": "activation_derivative"}}


def sigmoid_forward(x, w, b):
    out = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    return out, (x, w, out)


def sigmoid_backward(dout, cache):
    x, w, out = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)
''',
}


def new_pack(name: str, parent: Path, harness: bool = False) -> Path:
    """Write the scaffold of pack ``name`` into ``parent/name``; returns that folder. ``harness``:
    the scaffold of a pack that grades a course's interface through a harness.

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
        for relative, text in (_HARNESS_FILES if harness else _FILES).items():
            (folder / relative).write_text(text.format(name=name, path=folder), encoding="utf-8")
    except OSError as e:
        raise BpgradeError(f"cannot write {folder}: {e.strerror}") from None
    return folder
