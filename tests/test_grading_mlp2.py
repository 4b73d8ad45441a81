"""Known-good and known-wrong submissions of mlp2: each must be judged right.

Wrong submissions are made from the reference solution by one textual
mistake each, the kind students make; each declares exactly the targets it
must fail, and must pass all the others.
"""

from pathlib import Path

import pytest

import bpgrade

from conftest import REFERENCE, SUBMISSIONS

ALL = {"w1", "b1", "w2", "b2", "x"}

# (name, text in solutions/mlp2.py, replacement, targets that must fail, the
# diagnosis code each failing target must get: None where no code fits)
MISTAKES = [
    ("missing_factor_2", "d_l2 = 2.0 * (l2 - y) / x.shape[0]", "d_l2 = (l2 - y) / x.shape[0]", ALL, "scale"),
    ("sum_not_mean", "d_l2 = 2.0 * (l2 - y) / x.shape[0]", "d_l2 = 2.0 * (l2 - y)", ALL, "scale"),
    ("mean_over_features", "d_l2 = 2.0 * (l2 - y) / x.shape[0]", "d_l2 = 2.0 * (l2 - y) / x.shape[1]", ALL,
     "scale"),
    ("sign_flipped_w2", "return l1.T @ d_l2", "return -(l1.T @ d_l2)", {"w2"}, "sign"),
    ("relu_mask_left_out", "d_u1 = (d_l2 @ params[\"w2\"].T) * (u1 > 0)", "d_u1 = d_l2 @ params[\"w2\"].T",
     {"w1", "b1", "x"}, "relu_mask"),
    ("relu_mask_of_output", "* (u1 > 0)", "* (l2 > 0)", {"w1", "b1", "x"}, "relu_mask"),
    ("w1_transposed", "return x.T @ d_u1", "return d_u1.T @ x", {"w1"}, "transpose"),
    ("x_transposed", "return d_u1 @ params[\"w1\"].T", "return (d_u1 @ params[\"w1\"].T).T", {"x"}, "transpose"),
    ("b2_scalar", "return d_l2.sum(axis=0)", "return d_l2.sum()", {"b2"}, "shape"),
    ("nan_in_b1", "return d_u1.sum(axis=0)", "return d_u1.sum(axis=0) * np.where(d_u1[0] > 0, np.nan, 1.0)",
     {"b1"}, "nonfinite"),
    ("right_only_when_n_is_1", "d_u1 = (d_l2 @ params[\"w2\"].T) * (u1 > 0)",
     "d_u1 = (d_l2.sum(axis=0) * params[\"w2\"].T) * (u1 > 0)", {"w1", "b1", "x"}, None),
    ("right_only_when_h_is_1", "d_u1 = (d_l2 @ params[\"w2\"].T) * (u1 > 0)",
     "d_u1 = (d_l2 * params[\"w2\"].sum()) * (u1 > 0)", {"w1", "b1", "x"}, None),
    ("bias_left_out_of_forward", "u1 = x @ params[\"w1\"] + params[\"b1\"]", "u1 = x @ params[\"w1\"]", ALL, None),
    ("b1_summed_over_units", "return d_u1.sum(axis=0)", "return d_u1.sum(axis=1)", {"b1"}, "shape"),
    ("w2_left_out_when_passing_back", "d_u1 = (d_l2 @ params[\"w2\"].T) * (u1 > 0)", "d_u1 = d_l2 * (u1 > 0)",
     {"w1", "b1", "x"}, "chain_rule"),
    ("relu_applied_to_the_error", "d_u1 = (d_l2 @ params[\"w2\"].T) * (u1 > 0)",
     "d_u1 = np.maximum(d_l2 @ params[\"w2\"].T, 0)", {"w1", "b1", "x"}, "relu_mask"),
    ("raises_when_n_is_1", "return x.T @ d_u1", "return x.T @ d_u1 * (1 / (x.shape[0] - 1)) * (x.shape[0] - 1)",
     {"w1"}, "error"),
    ("grad_x_missing", "def grad_x(", "def gradient_x(", {"x"}, "missing"),
]

GOOD = sorted(SUBMISSIONS.glob("mlp2/good_*.py"))


def failing(report: bpgrade.Report) -> set[str]:
    return {t.name for t in report.targets if not t.passed}


def write_mistake(tmp_path: Path, name: str, old: str, new: str) -> Path:
    source = REFERENCE.read_text()
    assert source.count(old) == 1, f"{name}: {old!r} must occur once in the reference solution"
    path = tmp_path / f"{name}.py"
    path.write_text(source.replace(old, new))
    return path


def test_reference_solution_passes_every_target_on_several_seeds(mlp2):
    for seed in (None, 1, 2, 12345):
        report = bpgrade.check(mlp2, REFERENCE, seed=seed)
        assert report.status == "ok"
        assert failing(report) == set(), report.to_text()
        assert report.score == report.max_score == 5.0
        assert all(t.diagnosis is None for t in report.targets)


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_correct_formulations_pass(mlp2, path):
    report = bpgrade.check(mlp2, path, seed=7)
    assert report.status == "ok"
    assert failing(report) == set(), report.to_text()
    assert all(t.diagnosis is None for t in report.targets)


@pytest.mark.parametrize("name,old,new,fails,code", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_fails_exactly_its_targets_with_its_diagnosis(mlp2, tmp_path, name, old, new, fails, code):
    report = bpgrade.check(mlp2, write_mistake(tmp_path, name, old, new), seed=7)
    assert report.status == "ok"
    assert failing(report) == fails, report.to_text()
    assert report.score == len(ALL - fails)
    for t in report.targets:
        assert (t.score == t.max_score) == t.passed
        assert (t.diagnosis and t.diagnosis.code) == (None if t.passed else code), t.diagnosis


@pytest.mark.parametrize("name,dim", [("right_only_when_n_is_1", "N"), ("right_only_when_h_is_1", "h")])
def test_mistakes_right_only_for_a_dim_of_1_pass_exactly_those_cases(mlp2, tmp_path, name, dim):
    _, old, new, fails, _ = next(m for m in MISTAKES if m[0] == name)
    report = bpgrade.check(mlp2, write_mistake(tmp_path, name, old, new), seed=7)
    ones = sum(c.dims[dim] == 1 for c in bpgrade.generate_cases(mlp2, seed=7))
    assert ones > 0
    for t in report.targets:
        assert t.cases_passed == (ones if t.name in fails else t.cases)


def test_failure_message_names_worst_element_case_and_errors(mlp2, tmp_path):
    name, old, new, *_ = MISTAKES[3]  # sign flipped on w2
    report = bpgrade.check(mlp2, write_mistake(tmp_path, name, old, new))
    w2 = next(t for t in report.targets if t.name == "w2")
    assert "w2[" in w2.message and "seed 0" in w2.message and "N=" in w2.message and "h=" in w2.message
    assert "expected" in w2.message and "got" in w2.message
    assert "max abs error" in w2.message and "max rel error" in w2.message
    assert w2.cases == 24 and w2.cases_passed == 0


def test_wrong_shape_names_both_shapes(mlp2, tmp_path):
    report = bpgrade.check(mlp2, write_mistake(tmp_path, *MISTAKES[6][:3]))
    w1 = next(t for t in report.targets if t.name == "w1")
    assert w1.diagnosis.code == "transpose" and "transposed, where (d, h) is expected" in w1.diagnosis.text
    assert "(4, 3)" in w1.message and "(d, h) = (3, 4)" in w1.message


def test_scalar_b2_is_a_shape_failure(mlp2, tmp_path):
    report = bpgrade.check(mlp2, write_mistake(tmp_path, *MISTAKES[8][:3]))
    b2 = next(t for t in report.targets if t.name == "b2")
    assert b2.diagnosis.code == "shape" and "shape ()" in b2.message and "(1,)" in b2.message


def test_nan_is_reported_as_nonfinite(mlp2, tmp_path):
    report = bpgrade.check(mlp2, write_mistake(tmp_path, *MISTAKES[9][:3]))
    b1 = next(t for t in report.targets if t.name == "b1")
    assert b1.diagnosis.code == "nonfinite" and "nan" in b1.message


def test_missing_function_fails_only_its_target_and_says_so(mlp2, tmp_path):
    report = bpgrade.check(mlp2, write_mistake(tmp_path, *MISTAKES[-1][:3]))
    x = next(t for t in report.targets if t.name == "x")
    assert x.diagnosis.code == "missing" and "grad_x is not defined" in x.message


def test_memorised_public_answers_fail_under_a_secret_seed(mlp2, public_cases, tmp_path):
    import numpy as np

    from bpgrade import truth

    expected = truth.gradients(mlp2.model, {"b2": "b2"}, public_cases)
    table = {round(float(c.tensors["y"].sum()), 12): e["b2"].tolist() for c, e in zip(public_cases, expected)}
    path = tmp_path / "memorised.py"
    path.write_text(f"import numpy as np\nTABLE = {table!r}\n"
                    "def grad_b2(x, y, params):\n"
                    "    return np.array(TABLE.get(round(float(y.sum()), 12), [0.0]))\n")
    assert not failing(bpgrade.check(mlp2, path)) & {"b2"}
    assert "b2" in failing(bpgrade.check(mlp2, path, seed=424242))
    assert np.isfinite(expected[0]["b2"]).all()
