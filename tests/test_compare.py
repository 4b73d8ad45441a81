"""The comparison and its float64 tolerance policy, target by target."""

import numpy as np
import pytest

from bpgrade import truth
from bpgrade.compare import Expected, compare_target
from bpgrade.diagnosis import Diagnoser
from bpgrade.runner import TargetRun


@pytest.fixture(scope="module")
def w1_truth(mlp2, public_cases):
    return [g["w1"] for g in truth.gradients(mlp2.model, {"w1": "w1"}, public_cases)]


@pytest.fixture(scope="module")
def w1(mlp2):
    return mlp2.targets[0]


def run(outputs, **kw):
    """A TargetRun of plain arrays, one per case."""
    return TargetRun(outputs=tuple({"": o} for o in outputs), **kw)


def compare(mlp2, w1, cases, expected, target_run):
    variants = truth.variant_gradients([m.model for m in mlp2.mistakes], {"w1": "w1"}, cases)
    [result] = compare_target(mlp2, w1, cases, [Expected.of(expected)], target_run, Diagnoser(mlp2, cases, variants))
    return result


def grade(mlp2, w1, cases, outputs, **kw):
    return compare(mlp2, w1, cases, outputs["expected"], run(outputs["got"], **kw))


def test_rounding_noise_passes(mlp2, w1, public_cases, w1_truth):
    rng = np.random.default_rng(0)
    got = [e * (1 + 1e-13 * rng.standard_normal(e.shape)) for e in w1_truth]
    result = grade(mlp2, w1, public_cases, {"expected": w1_truth, "got": got})
    assert result.passed and result.score == 1.0 and result.cases_passed == 24
    assert result.diagnosis is None


@pytest.mark.parametrize("relative_error", [1e-6, 1e-3, 0.5])
def test_an_error_in_one_entry_of_one_case_fails(mlp2, w1, public_cases, w1_truth, relative_error):
    got = [e.copy() for e in w1_truth]
    scale = np.abs(got[10]).max()
    got[10][0, 1] += relative_error * scale
    result = grade(mlp2, w1, public_cases, {"expected": w1_truth, "got": got})
    assert not result.passed and result.score == 0.0
    assert result.cases_passed == 23
    assert "w1[0, 1] in case 10" in result.message
    assert f"seed {public_cases[10].seed}" in result.message
    assert f"expected {w1_truth[10][0, 1]:.6g}, got {got[10][0, 1]:.6g}" in result.message
    assert f"rel error {relative_error:.2g}" in result.message


def test_tolerance_scales_with_the_gradient(mlp2, w1, public_cases, w1_truth):
    # The same absolute error passes a large gradient and fails a small one.
    big = [e * 1e6 for e in w1_truth]
    got = [b + 1e-6 for b in big]
    assert grade(mlp2, w1, public_cases, {"expected": big, "got": got}).passed
    got = [e + 1e-6 for e in w1_truth]
    assert not grade(mlp2, w1, public_cases, {"expected": w1_truth, "got": got}).passed


def test_checks_run_in_order_missing_shape_error_nonfinite(mlp2, w1, public_cases, w1_truth):
    assert compare(mlp2, w1, public_cases, w1_truth, TargetRun(missing=True)).diagnosis.code == "missing"
    wrong_shape = [e.T for e in w1_truth[:3]]
    result = compare(mlp2, w1, public_cases, w1_truth, run(wrong_shape, error="ValueError: x", error_case=3))
    assert result.diagnosis.code == "shape"
    result = compare(mlp2, w1, public_cases, w1_truth, run(w1_truth[:3], error="ValueError: boom", error_case=3))
    assert result.diagnosis.code == "error" and "ValueError: boom in case 3 (" in result.message
    inf = [e.copy() for e in w1_truth]
    inf[4][1, 0] = np.inf
    result = compare(mlp2, w1, public_cases, w1_truth, run(inf))
    assert result.diagnosis.code == "nonfinite" and "w1[1, 0] is inf in case 4" in result.message


def test_results_for_too_few_cases_never_pass(mlp2, w1, public_cases, w1_truth):
    result = compare(mlp2, w1, public_cases, w1_truth, run(w1_truth[:5]))
    assert not result.passed and result.diagnosis.code == "error"


def test_low_precision_results_are_named(mlp2, w1, public_cases, w1_truth):
    got = [e.astype(np.float32).astype(np.float64) for e in w1_truth]
    result = compare(mlp2, w1, public_cases, w1_truth, run(got, dtypes=("float32",)))
    assert not result.passed and "float32" in result.message


def test_diagnosis_codes_come_from_the_documented_vocabulary():
    from bpgrade.reports import DIAGNOSIS_CODES, Diagnosis

    assert {"missing", "shape", "nonfinite", "error", "forbidden", "timeout"} <= set(DIAGNOSIS_CODES)
    with pytest.raises(ValueError, match="unknown diagnosis code"):
        Diagnosis("vibes", "the numbers feel off")
