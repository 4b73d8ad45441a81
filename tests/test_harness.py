"""A pack's harness: instructor code that calls a student's code the way the course does."""

import json
import textwrap

import pytest

import bpgrade
from bpgrade.cases import case_source, generate_cases
from bpgrade.errors import PackError, SubmissionError

MODEL = '''
import jax.numpy as jnp


def loss(x, w, b, dout, xr, doutr, params, tap):
    out = x @ w + b
    return jnp.sum(dout * out) + jnp.sum(doutr * jnp.maximum(xr, 0))
'''

HARNESS = '''
def affine_backward(student, x, w, b, dout, **rest):
    out, cache = student.affine_forward(x, w, b)
    dx, dw, db = student.affine_backward(dout, cache)
    return {"dx": dx, "dw": dw, "db": db}


def relu_backward(student, xr, doutr, **rest):
    _, cache = student.relu_forward(xr)
    return {"dx": student.relu_backward(doutr, cache)}
'''

YAML = '''
name: layers
dims: {N: [2, 4], D: [2, 3], M: [2, 3]}
inputs: {x: [N, D], w: [D, M], b: [M], dout: [N, M], xr: [N, D], doutr: [N, D]}
params: {}
model: model.py
harness: harness.py
modules: {course_utils: support/course_utils.py}
display_only: [matplotlib]
targets:
  affine_backward.dx: {of: x}
  affine_backward.dw: {of: w}
  affine_backward.db: {of: b}
  relu_backward.dx: {of: xr}
cases: {shapes: 2, per_shape: 2, kinks: [], hidden_seed: 5}
'''

RIGHT = '''
import numpy as np
import matplotlib.pyplot as plt
from course_utils import rows


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    plt.plot(cache)
    return dout * (cache > 0)
'''


@pytest.fixture
def pack(tmp_path):
    folder = tmp_path / "layers"
    (folder / "support").mkdir(parents=True)
    (folder / "model.py").write_text(MODEL)
    (folder / "harness.py").write_text(HARNESS)
    (folder / "support" / "course_utils.py").write_text("def rows(x):\n    return x.shape[0]\n")
    (folder / "README.md").write_text("# layers\n")
    (folder / "template.py").write_text("")
    (folder / "exercise.yaml").write_text(YAML)
    return bpgrade.load_pack(folder)


def grade(tmp_path, pack, source, name="student.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return bpgrade.check(pack, path)


def results(report):
    return {r.name: r for r in report.targets}


def test_a_right_submission_passes_every_target(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT)
    assert report.status == "ok", report.message
    assert all(r.passed for r in report.targets), report
    assert [r.name for r in report.targets] == ["affine_backward.dx", "affine_backward.dw", "affine_backward.db",
                                                "relu_backward.dx"]
    assert report.hidden_cases > 0


def test_a_wrong_gradient_fails_only_its_target(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT.replace("np.sum(dout, axis=0)", "np.sum(dout, axis=0) * 2"))
    assert {n for n, r in results(report).items() if not r.passed} == {"affine_backward.db"}


def test_an_error_quotes_the_students_line_never_the_harness(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT.replace("return dout @ w.T, x.T @ dout", "return dout @ w, x.T @ dout"))
    failed = results(report)["affine_backward.dx"]
    assert "ValueError" in failed.message and "`return dout @ w, x.T @ dout, np.sum(dout, axis=0)`" in failed.message
    assert "student" not in failed.message.replace("student.py", "") and "harness" not in failed.message
    # One student function failing costs only the targets that need it.
    assert results(report)["relu_backward.dx"].passed


def test_a_missing_student_function_is_missing_and_named(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT.replace("def affine_forward(", "def affine_forward_(", 1))
    for name in ("affine_backward.dx", "affine_backward.dw", "affine_backward.db"):
        result = results(report)[name]
        assert not result.passed and result.message == "affine_forward is not defined"
        assert result.diagnosis.code == "missing" and "Define affine_forward" in result.diagnosis.text
    assert results(report)["relu_backward.dx"].passed


def test_a_result_not_in_the_courses_interface_is_said_so(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT.replace("return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)",
                                                 "return dout @ w.T, x.T @ dout"))
    message = results(report)["affine_backward.dw"].message
    assert "not enough values to unpack" in message and "not in a line of yours" in message
    assert "line " not in message.split("(")[0]


def test_a_none_for_one_entry_fails_that_target_alone(tmp_path, pack):
    report = grade(tmp_path, pack, RIGHT.replace("return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)",
                                                 "return dout @ w.T, x.T @ dout, None"))
    assert {n for n, r in results(report).items() if not r.passed} == {"affine_backward.db"}
    assert "affine_backward returned db = None" in results(report)["affine_backward.db"].message


def test_a_notebook_is_graded_through_the_harness_without_its_slow_cells(tmp_path, pack):
    cells = [RIGHT, "import time\ntime.sleep(60)\nresult = affine_forward(1, 2, 3)"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": cell} for cell in cells]}
    (tmp_path / "student.ipynb").write_text(json.dumps(notebook))
    report = bpgrade.check(pack, tmp_path / "student.ipynb")
    assert report.status == "ok" and all(r.passed for r in report.targets), report


def test_the_harness_is_not_run_in_the_grader_and_functions_are_refused(tmp_path, pack):
    with pytest.raises(SubmissionError, match="calls your code the way the course does"):
        bpgrade.check(pack, {"affine_backward.dx": lambda *a: None})


@pytest.mark.parametrize("change, key", [
    ("harness: harness.py", "harness"),
    ("  relu_backward.dx: {of: xr}", "targets.relu_backward.dx"),
    ("modules: {course_utils: support/course_utils.py}", "modules.course_utils"),
    ("display_only: [matplotlib]", "display_only"),
])
def test_pack_keys_are_validated(pack, change, key):
    broken = {"harness: harness.py": "harness: nothere.py",
              "  relu_backward.dx: {of: xr}": "  relu_backward.dx: {of: xr, call: no_such}",
              "modules: {course_utils: support/course_utils.py}": "modules: {course_utils: support/none.py}",
              "display_only: [matplotlib]": "display_only: [jax]"}[change]
    file = pack.root / "exercise.yaml"
    file.write_text(file.read_text().replace(change, broken))
    with pytest.raises(PackError) as e:
        bpgrade.load_pack(pack.root)
    assert e.value.key.startswith(key), e.value


def test_an_allowed_module_can_be_imported_and_others_still_not(tmp_path, pack):
    uses_scipy = RIGHT.replace("def relu_backward(dout, cache):\n    plt.plot(cache)\n",
                               "def relu_backward(dout, cache):\n    from scipy.special import expit\n"
                               "    assert expit(0.0) == 0.5\n")
    report = grade(tmp_path, pack, uses_scipy)
    assert "No module named 'scipy" in results(report)["relu_backward.dx"].message
    file = pack.root / "exercise.yaml"
    file.write_text(file.read_text().replace("display_only: [matplotlib]",
                                             "display_only: [matplotlib]\nallowed_modules: [scipy.special]"))
    allowing = bpgrade.load_pack(pack.root)
    report = grade(tmp_path, allowing, uses_scipy)
    assert all(r.passed for r in report.targets), report
    # Allowed is what the pack names: another installed module stays out of reach.
    report = grade(tmp_path, allowing, RIGHT.replace("import numpy as np", "import numpy as np\nimport sklearn"))
    assert report.status == "error" and "No module named 'sklearn' here" in report.message
    assert "for this exercise, scipy.special" in report.message


def test_a_pack_wide_shape_policy_and_the_case_code_of_a_harness_pack(tmp_path, pack):
    keepdims = RIGHT.replace("np.sum(dout, axis=0)", "np.sum(dout, axis=0, keepdims=True)")
    assert not results(grade(tmp_path, pack, keepdims))["affine_backward.db"].passed
    file = pack.root / "exercise.yaml"
    file.write_text(file.read_text().replace("harness: harness.py", "harness: harness.py\nshape: squeeze"))
    squeezing = bpgrade.load_pack(pack.root)
    assert results(grade(tmp_path, squeezing, keepdims))["affine_backward.db"].passed
    source = case_source(squeezing, generate_cases(squeezing)[0])
    assert "harness.py does (affine_backward, affine_forward, relu_backward, relu_forward)" in source
    assert "grad_" not in source


def test_a_name_removed_before_the_hidden_cases_fails_them_without_a_word(tmp_path, pack):
    # After its last public case, the submission deletes the forward pass the harness reads.
    public = sum(not c.hidden for c in generate_cases(pack))
    report = grade(tmp_path, pack, RIGHT + f"""

_calls = 0
_backward = affine_backward


def affine_backward(dout, cache):
    global _calls
    _calls += 1
    if _calls == {public}:
        del globals()["affine_forward"]
    return _backward(dout, cache)
""")
    failed = results(report)["affine_backward.dx"]
    assert report.status == "ok" and not failed.passed and "in a hidden case" in failed.message, failed
    assert results(report)["relu_backward.dx"].passed


def test_a_harness_may_hand_back_the_students_tuple_read_by_index(tmp_path, pack):
    (pack.root / "harness.py").write_text(HARNESS.replace(
        '''    dx, dw, db = student.affine_backward(dout, cache)
    return {"dx": dx, "dw": dw, "db": db}''', '''    return student.affine_backward(dout, cache)'''))
    file = pack.root / "exercise.yaml"
    file.write_text(file.read_text().replace("affine_backward.dx: {of: x}", "affine_backward.dx: {of: x, key: 0}")
                    .replace("affine_backward.dw: {of: w}", "affine_backward.dw: {of: w, key: 1}")
                    .replace("affine_backward.db: {of: b}", "affine_backward.db: {of: b, key: 2}"))
    by_index = bpgrade.load_pack(pack.root)
    assert [t.key for t in by_index.targets[:3]] == [0, 1, 2]
    assert all(r.passed for r in grade(tmp_path, by_index, RIGHT).targets)
    short = grade(tmp_path, by_index, RIGHT.replace("return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)",
                                                    "return dout @ w.T, x.T @ dout"))
    assert [r.name for r in short.targets if not r.passed] == ["affine_backward.db"]
    failed = results(short)["affine_backward.db"]
    assert "affine_backward returned a tuple of 2 items, with no item 2" in failed.message
    assert "It must return item 2 (d loss / d b)" in failed.diagnosis.text
