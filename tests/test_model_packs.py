"""Packs whose network is a model.py: validation, taps, pytree targets graded leaf by leaf."""

import importlib.util
import shutil

import numpy as np
import pytest

import bpgrade
from bpgrade.errors import PackError

from conftest import ROOT


def _copy(tmp_path, name):
    return shutil.copytree(ROOT / "exercises" / name, tmp_path / name)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("file,old,new,where,expected", [
    ("model.py", "def loss(", "def lost(", "model.py", "no function loss"),
    ("model.py", '"""The three', 'raise RuntimeError("boom")\n"""The three', "model.py", "RuntimeError: boom"),
    ("exercise.yaml", "{of: z2, function: delta2,", "{of: u2, function: delta2,", "targets.delta2.of",
     "a tapped name (x, y, w1, b1, w2, b2, z1, z2)"),
    ("exercise.yaml", "per_shape: 16", "per_shape: 16\n  kinks: [a1]", "cases.kinks", "names that model.py taps"),
    ("model.py", "return (a2 - y) ** 2 / 2", "return (a2 - y) ** 2 / 2 + jnp.ones(3) @ jnp.ones(2)", "model",
     "a loss that runs on the dims"),
    ("model.py", "return (a2 - y) ** 2 / 2", "return jnp.stack([a2, y])", "model", "a loss that returns a scalar"),
])
def test_a_bad_model_pack_is_reported_with_file_key_and_expectation(tmp_path, file, old, new, where, expected):
    pack = _copy(tmp_path, "neuron3")
    if "jnp" in new:
        _edit(pack / "model.py", "import jax\n", "import jax\nimport jax.numpy as jnp\n")
    _edit(pack / file, old, new)
    with pytest.raises(PackError) as info:
        bpgrade.load_pack(pack)
    message = str(info.value)
    assert where in message and expected in message, message


def test_a_delta_is_the_gradient_at_the_tap():
    pack = bpgrade.load_pack("neuron3")
    case = bpgrade.generate_cases(pack)[0]
    t = case.tensors
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a1 = sig(t["w1"] * t["x"] + t["b1"])
    a2 = sig(t["w2"] * a1 + t["b2"])
    delta2 = (a2 - t["y"]) * a2 * (1 - a2)
    report = bpgrade.check(pack, {"delta2": lambda x, y, params: delta2})
    # Right on the case it was computed for only: a constant cannot pass the others.
    [result] = [r for r in report.targets if r.name == "delta2"]
    assert result.cases_passed == 1 and not result.passed


@pytest.fixture(scope="module")
def deep():
    pack = bpgrade.load_pack("mlp-deep")
    spec = importlib.util.spec_from_file_location("deep_reference", pack.root / "selftest" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return pack, module


def test_pytree_targets_are_reported_leaf_by_leaf_with_their_paths(deep):
    pack, ref = deep
    report = bpgrade.check(pack, {"grad_delta": ref.grad_delta, "grad_layers": ref.grad_layers})
    names = [t.name for t in report.targets]
    assert names == ["delta[0]", "delta[1]", "delta[2]", "delta[3]", "layers[0].b", "layers[0].w", "layers[1].b",
                     "layers[1].w", "layers[2].b", "layers[2].w", "layers[3].b", "layers[3].w"]
    assert report.passed and report.score == pack.max_score == 4
    by_name = {t.name: t for t in report.targets}
    # Depth varies: the fourth layer exists only in the cases with L = 4.
    deep_cases = sum(c.dims["L"] == 4 for c in bpgrade.generate_cases(pack))
    all_cases = len(bpgrade.generate_cases(pack))
    assert by_name["layers[3].w"].cases == deep_cases < by_name["layers[0].w"].cases == all_cases


def test_a_missing_leaf_fails_that_leaf_only(deep):
    pack, ref = deep
    report = bpgrade.check(pack, {"grad_delta": lambda x, y, params: ref.grad_delta(x, y, params)[:2],
                                  "grad_layers": ref.grad_layers})
    failing = {t.name for t in report.targets if not t.passed}
    assert failing == {"delta[2]", "delta[3]"}
    leaf = next(t for t in report.targets if t.name == "delta[2]")
    assert leaf.diagnosis.code == "shape" and "returned 2 arrays ([0], [1])" in leaf.message
    assert "without delta[2], which the gradient holds" in leaf.diagnosis.text


def test_an_array_where_a_list_is_expected_is_a_shape_failure(deep):
    pack, ref = deep
    report = bpgrade.check(pack, {"grad_delta": lambda x, y, params: ref.grad_delta(x, y, params)[0],
                                  "grad_layers": ref.grad_layers})
    delta = [t for t in report.targets if t.name.startswith("delta")]
    assert delta and all(t.diagnosis.code == "shape" and "returned an array of shape" in t.message
                         for t in delta)
    assert all(t.passed for t in report.targets if t.name.startswith("layers"))


def test_a_pack_without_params_calls_the_functions_with_its_inputs_only():
    pack = bpgrade.load_pack("graph")
    report = bpgrade.check(pack, {"grad_p": lambda x, y, z: x, "grad_z": lambda x, y, z: x * (x + y)})
    assert {t.name for t in report.targets if t.passed} == {"p", "z"}
