"""The Python API a student uses in a notebook."""

import importlib.util

import pytest

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
    assert result == {"w1": (True, None), "b1": (True, None), "b2": (True, None), "w2": (False, None),
                      "x": (False, None)}
    # Functions left out of the dict are not checked: one line, no advice about a file.
    assert report.targets[2].message == "not checked: grad_w2 was not given"


def test_a_wrong_function_in_process_fails_with_its_reason():
    ref = reference_module()
    report = bpgrade.check("mlp2", {"w2": lambda x, y, p: 2 * ref.grad_w2(x, y, p)}, seed=3)
    w2 = next(t for t in report.targets if t.name == "w2")
    assert not w2.passed and "wrong in 24 of 24 cases" in w2.message


def test_a_key_that_names_no_target_is_an_error_that_lists_them():
    ref = reference_module()
    with pytest.raises(bpgrade.SubmissionError, match=r"'dw1': not a target of mlp2; the keys are its targets "
                                                       r"\(w1, b1, w2, b2, x\) or their functions \(grad_w1, "):
        bpgrade.check("mlp2", {"dw1": ref.grad_w1})


def test_a_bare_function_is_an_error_that_shows_the_call():
    ref = reference_module()
    with pytest.raises(bpgrade.SubmissionError, match=r"got the function grad_w1: "
                                                       r"bpgrade.check\('mlp2', \{'w1': grad_w1\}\)"):
        bpgrade.check("mlp2", ref.grad_w1)


def test_a_repeated_check_reuses_the_truth(monkeypatch):
    """A notebook's second identical call costs what the run costs: the truth is not computed again."""
    from bpgrade import grader, truth

    ref = reference_module()
    bpgrade.check("mlp2", {"w1": ref.grad_w1}, seed=11)
    calls = []
    monkeypatch.setattr(truth, "gradients", lambda *a, **k: calls.append(a) or pytest.fail("truth again"))
    report = bpgrade.check("mlp2", {"w1": ref.grad_w1}, seed=11)
    assert report.targets[0].passed and calls == []
    assert len(grader._PREPARED) <= grader._KEPT
