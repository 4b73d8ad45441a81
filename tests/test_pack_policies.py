"""Targets whose gradient may be zero, and results whose shape differs only by axes of size 1."""

import textwrap

import numpy as np
import pytest

import bpgrade
from bpgrade.errors import PackError

MODEL = '''
import jax.numpy as jnp


def loss(x, params, tap):
    z = x @ params["w"] + params["b"]          # b is cancelled by the batch norm below
    zhat = (z - jnp.mean(z, axis=0)) / jnp.sqrt(jnp.var(z, axis=0) + 1e-5)
    return jnp.sum(jnp.tanh(params["gamma"] * zhat))
'''

REFERENCE = '''
import numpy as np


def _forward(x, params):
    z = x @ params["w"] + params["b"]
    mu, var = z.mean(axis=0), z.var(axis=0)
    zhat = (z - mu) / np.sqrt(var + 1e-5)
    return z, zhat, var


def grad_gamma(x, params):
    z, zhat, var = _forward(x, params)
    return ((1 - np.tanh(params["gamma"] * zhat) ** 2) * zhat).sum(axis=0)


def grad_w(x, params):
    z, zhat, var = _forward(x, params)
    dzhat = (1 - np.tanh(params["gamma"] * zhat) ** 2) * params["gamma"]
    n = x.shape[0]
    dz = (dzhat - dzhat.mean(axis=0) - zhat * (dzhat * zhat).mean(axis=0)) / np.sqrt(var + 1e-5)
    return x.T @ dz


def grad_b(x, params):
    return np.zeros_like(params["b"])
'''


def write_pack(tmp_path, targets: str):
    folder = tmp_path / "bn"
    folder.mkdir()
    (folder / "model.py").write_text(MODEL)
    (folder / "README.md").write_text("# bn\n")
    (folder / "template.py").write_text("")
    (folder / "exercise.yaml").write_text(
        "name: bn\ndims: {N: [3, 6], d: [1, 3], h: [2, 4]}\ninputs: {x: [N, d]}\n"
        "params: {w: [d, h], b: [h], gamma: [h]}\nmodel: model.py\ntargets:\n"
        + textwrap.indent(targets, "  ") + "\ncases: {shapes: 3, per_shape: 2}\n")
    return folder


def test_a_target_whose_gradient_is_zero_must_say_so(tmp_path):
    with pytest.raises(PackError, match="whose gradients are not zero \\(a target whose gradient may be zero says "
                                        "zero: true\\)") as info:
        bpgrade.generate_cases(bpgrade.load_pack(write_pack(tmp_path, "w: {}\nb: {}\ngamma: {}")))
    assert "ReLU" not in str(info.value)  # this network has no ReLU inputs to speak of


@pytest.fixture
def pack(tmp_path):
    return bpgrade.load_pack(write_pack(tmp_path, "w: {}\nb: {zero: true}\ngamma: {shape: squeeze}"))


def functions(changes=None):
    namespace = {}
    exec(REFERENCE, namespace)
    return {name: namespace[f"grad_{name}"] for name in ("w", "b", "gamma")} | (changes or {})


def test_zeros_pass_for_a_zero_target_and_anything_else_fails(pack):
    report = bpgrade.check(pack, functions())
    assert report.passed, report.to_text()
    assert "nan" not in report.to_text()
    wrong = bpgrade.check(pack, functions({"b": lambda x, params: np.ones_like(params["b"])})).targets[1]
    assert not wrong.passed and "expected 0, got 1" in wrong.message
    assert wrong.diagnosis is None or wrong.diagnosis.code not in ("scale", "sign", "precision")


def test_a_shape_with_axes_of_size_1_passes_where_the_target_squeezes(pack):
    as_row = bpgrade.check(pack, functions({"gamma": lambda x, p: functions()["gamma"](x, p)[None, :]}))
    gamma = as_row.targets[2]
    assert gamma.passed and gamma.score == gamma.max_score
    assert "its shape (1, " in gamma.message and "was taken as (" in gamma.message
    # Not where the target is exact (as by default), and never for another layout.
    other = bpgrade.check(pack, functions({"w": lambda x, p: functions()["w"](x, p)[None]})).targets[0]
    assert not other.passed and other.diagnosis.code == "shape"
