"""Case generation: deterministic, varied, and hard to pass by accident."""

import shutil

import numpy as np
import pytest
import yaml

import bpgrade
from bpgrade import truth
from bpgrade.packs import SHIPPED_DIR

SEEDS = [None, 1, 99, 2**40 + 3]


def relu_inputs(case):
    t = case.tensors
    return t["x"] @ t["w1"] + t["b1"]


def test_cases_are_deterministic_from_pack_and_seed(mlp2, public_cases):
    again = bpgrade.generate_cases(mlp2)
    assert len(again) == len(public_cases) == mlp2.cases.shapes * mlp2.cases.per_shape
    for a, b in zip(public_cases, again):
        assert a.dims == b.dims
        for name in a.tensors:
            np.testing.assert_array_equal(a.tensors[name], b.tensors[name])


def test_another_seed_gives_other_cases(mlp2, public_cases):
    other = bpgrade.generate_cases(mlp2, seed=1)
    assert not np.array_equal(other[0].tensors["x"], public_cases[0].tensors["x"])
    assert public_cases[0].seed == mlp2.cases.public_seed and other[0].seed == 1


def test_another_pack_name_gives_other_cases(mlp2, public_cases, tmp_path):
    shutil.copytree(SHIPPED_DIR / "mlp2", tmp_path / "twin")
    data = yaml.safe_load((tmp_path / "twin" / "exercise.yaml").read_text())
    data["name"] = "twin"
    (tmp_path / "twin" / "exercise.yaml").write_text(yaml.safe_dump(data))
    twin = bpgrade.generate_cases(bpgrade.load_pack(tmp_path / "twin"))
    assert not np.array_equal(twin[0].tensors["x"], public_cases[0].tensors["x"])


@pytest.mark.parametrize("seed", SEEDS)
def test_shapes_cover_the_cases_that_catch_axis_mistakes(mlp2, seed):
    cases = bpgrade.generate_cases(mlp2, seed)
    shapes = {(c.dims["N"], c.dims["d"], c.dims["h"]) for c in cases}
    assert len(shapes) == mlp2.cases.shapes
    assert any(n == 1 for n, d, h in shapes)
    assert any(h == 1 for n, d, h in shapes)
    assert any(d != h and n != h and n != d for n, d, h in shapes)
    for n, d, h in shapes:
        assert 1 <= n <= 8 and 1 <= d <= 5 and 1 <= h <= 6
        assert n * h >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_inputs_keep_the_margin_and_mix_active_and_inactive(mlp2, seed):
    for case in bpgrade.generate_cases(mlp2, seed):
        u1 = relu_inputs(case)
        assert np.abs(u1).min() >= mlp2.cases.activation_margin
        assert (u1 > 0).any() and (u1 < 0).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_no_true_gradient_is_all_zero(mlp2, seed):
    cases = bpgrade.generate_cases(mlp2, seed)
    for grads in truth.gradients(mlp2.model, {n: n for n in ["w1", "b1", "w2", "b2", "x"]}, cases):
        for g in grads.values():
            assert np.abs(g).max() > 1e-4


def test_tensors_are_float64_of_the_declared_shapes(mlp2, public_cases):
    for case in public_cases:
        for name, array in case.tensors.items():
            assert array.dtype == np.float64
            assert array.shape == mlp2.model.shapes(case.dims)[name]
        assert case.describe().startswith(f"case {case.index} (N=")

