"""The Python API a student uses in a notebook."""

import importlib.util

import bpgrade

from conftest import REFERENCE


def reference_module():
    spec = importlib.util.spec_from_file_location("reference_mlp2", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_a_file_returns_a_report_that_prints_as_the_table():
    report = bpgrade.check("mlp2", str(REFERENCE))
    assert isinstance(report, bpgrade.Report) and report.passed
    text = str(report)
    assert "target" in text and "score 5/5" in text
    assert report.to_dict()["score"] == 5.0


def test_check_a_dict_of_functions_by_target_or_function_name():
    ref = reference_module()
    report = bpgrade.check("mlp2", {"w1": ref.grad_w1, "grad_b1": ref.grad_b1, "b2": ref.grad_b2})
    assert report.submission == "functions" and report.status == "ok"
    result = {t.name: (t.passed, t.diagnosis.code if t.diagnosis else None) for t in report.targets}
    assert result == {"w1": (True, None), "b1": (True, None), "b2": (True, None), "w2": (False, "missing"),
                      "x": (False, "missing")}


def test_a_wrong_function_in_process_fails_with_its_reason():
    ref = reference_module()
    report = bpgrade.check("mlp2", {"w2": lambda x, y, p: 2 * ref.grad_w2(x, y, p)}, seed=3)
    w2 = next(t for t in report.targets if t.name == "w2")
    assert not w2.passed and "wrong in 24 of 24 cases" in w2.message
