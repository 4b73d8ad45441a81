"""Diagnosis: the text that names a mistake, where to revisit, and the smallest failing case.

Which code each mistake gets is tested with the mistakes of mlp2
(test_grading_mlp2.py) and with every pack's wrong solutions (the self-test,
test_selftest.py); here: the texts, hidden cases, the vocabulary, and packs
that declare mistake models.
"""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import bpgrade
from bpgrade import selftest
from bpgrade.errors import PackError
from bpgrade.packs import SHIPPED_DIR
from bpgrade.reports import DIAGNOSIS_CODES

from conftest import REFERENCE, ROOT


@pytest.fixture(scope="module")
def reference():
    namespace = {}
    exec(REFERENCE.read_text(), namespace)
    return namespace


def diagnosis_of(mlp2, functions, target):
    report = bpgrade.check(mlp2, functions)
    result = next(t for t in report.targets if t.name == target)
    assert not result.passed
    return result.diagnosis


def test_every_code_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for code in DIAGNOSIS_CODES:
        assert f"`{code}`" in readme, code


@pytest.mark.parametrize("factor,words", [(3.0, "3 times the truth"), (0.25, "1/4 times the truth")])
def test_a_constant_multiple_is_named_with_its_factor(mlp2, reference, factor, words):
    diagnosis = diagnosis_of(mlp2, {"b1": lambda x, y, p: factor * reference["grad_b1"](x, y, p)}, "b1")
    assert diagnosis.code == "scale" and words in diagnosis.text


def test_a_multiple_by_a_dim_names_the_dim(mlp2, reference):
    diagnosis = diagnosis_of(mlp2, {"w2": lambda x, y, p: x.shape[1] * reference["grad_w2"](x, y, p)}, "w2")
    assert diagnosis.code == "scale" and "d times the truth (d is a dim of the exercise)" in diagnosis.text


def test_an_extra_axis_of_size_1_with_the_right_values_says_reshape(mlp2, reference):
    diagnosis = diagnosis_of(mlp2, {"b1": lambda x, y, p: reference["grad_b1"](x, y, p)[None, :]}, "b1")
    assert diagnosis.code == "shape"
    assert "extra axis of size 1" in diagnosis.text and "Its values are right: reshape it." in diagnosis.text


def test_a_missing_axis_of_size_1_is_named(mlp2, reference):
    diagnosis = diagnosis_of(mlp2, {"b2": lambda x, y, p: reference["grad_b2"](x, y, p)[0]}, "b2")
    assert diagnosis.code == "shape" and "lacks an axis of size 1" in diagnosis.text


def test_the_text_points_at_the_readme_and_shows_the_smallest_failing_case(mlp2, public_cases, reference):
    # Wrong (doubled) only where N > 2: the smallest failing case is the smallest of those.
    def grad_x(x, y, p):
        return reference["grad_x"](x, y, p) * (2.0 if x.shape[0] > 2 else 1.0)

    diagnosis = diagnosis_of(mlp2, {"x": grad_x}, "x")
    assert diagnosis.code == "scale"
    assert "Revisit “The equations to use” in the exercise's README (`bpgrade show mlp2`)." in diagnosis.text
    failing = [c for c in public_cases if c.dims["N"] > 2]
    smallest = min(failing, key=lambda c: (sum(c.dims.values()), c.index))
    assert f"Smallest failing case: {smallest.describe()}\n" in diagnosis.text
    expected_line = re.search(r"\n  expected (.*)\n  received (.*)", diagnosis.text, re.S)
    assert expected_line and "nothing" not in expected_line[0]
    truth = bpgrade.truth.gradients(mlp2.model, {"x": "x"}, [smallest])[0]["x"]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]\d+)?", expected_line[1])]
    np.testing.assert_allclose(shown, truth.ravel(), atol=1e-6)


def test_a_passing_target_never_has_a_diagnosis_and_a_grade_never_depends_on_one(mlp2, reference):
    functions = {name: reference[f"grad_{name}"] for name in ("w1", "b1", "w2", "b2", "x")}
    functions["b2"] = lambda x, y, p: -reference["grad_b2"](x, y, p)
    report = bpgrade.check(mlp2, functions)
    assert [t.diagnosis is None for t in report.targets] == [t.passed for t in report.targets] == \
        [True, True, True, False, True]
    assert report.score == 4.0 and report.targets[3].diagnosis.code == "sign"


def test_failures_in_hidden_cases_only_show_no_values(tmp_path, reference):
    pack_dir = shutil.copytree(SHIPPED_DIR / "mlp2", tmp_path / "mlp2")
    text = (pack_dir / "exercise.yaml").read_text().replace("  public_seed: 0", "  public_seed: 0\n  hidden_seed: 9")
    (pack_dir / "exercise.yaml").write_text(text)
    pack = bpgrade.load_pack(pack_dir)
    hidden_x = {c.tensors["x"].tobytes() for c in bpgrade.generate_cases(pack) if c.hidden}

    def grad_w2(x, y, p):
        return reference["grad_w2"](x, y, p) * (-1.0 if x.tobytes() in hidden_x else 1.0)

    w2 = next(t for t in bpgrade.check(pack, {"w2": grad_w2}).targets if t.name == "w2")
    assert w2.diagnosis.code == "sign" and "It fails in hidden cases only." in w2.diagnosis.text
    assert "Smallest failing case" not in w2.diagnosis.text and "expected" not in w2.diagnosis.text


def test_the_cli_prints_the_diagnosis_under_its_target_and_in_json(bpgrade_cmd, cli_env):
    wrong = ROOT / "exercises" / "mlp2" / "selftest" / "relu_mask_left_out.py"
    text = subprocess.run([*bpgrade_cmd, "check", str(wrong), "-e", "mlp2"], capture_output=True, text=True,
                          env=cli_env).stdout
    w1_block = text.split("\nw1 ")[1].split("\nb1 ")[0]
    assert "relu_mask: This is the gradient with the derivative of the ReLU after w1 left out" in \
        " ".join(w1_block.split())
    assert "Smallest failing case: case" in w1_block and "  expected [[" in w1_block and "  received [[" in w1_block
    out = subprocess.run([*bpgrade_cmd, "check", str(wrong), "-e", "mlp2", "--format", "json"], capture_output=True,
                         text=True, env=cli_env)
    record = json.loads(out.stdout)
    diagnoses = {t["name"]: t["diagnosis"] for t in record["targets"]}
    assert diagnoses["w2"] is None and diagnoses["b2"] is None
    assert {d["code"] for name, d in diagnoses.items() if name in ("w1", "b1", "x")} == {"relu_mask"}


def mistake_pack(tmp_path, old, new, file="exercise.yaml"):
    pack_dir = shutil.copytree(SHIPPED_DIR / "neuron3", tmp_path / "neuron3")
    text = (pack_dir / file).read_text()
    assert old in text
    (pack_dir / file).write_text(text.replace(old, new))
    return pack_dir


@pytest.mark.parametrize("old,new,key,expected", [
    ("code: chain_rule", "code: wrongness", "mistakes.w2_left_out_of_delta1.code", "one of sign, scale"),
    ("loss: loss_w2_times_x", "loss: loss_nowhere", "", "no function loss_nowhere"),
    ("    readme: The four equations\n  w2_times_x:", "    readme: Chapter 9\n  w2_times_x:",
     "mistakes.w2_left_out_of_delta1.readme", "a heading of README.md"),
    ("b2: {readme: The four equations}", "b2: {readme: Nowhere}", "targets.b2.readme", "a heading of README.md"),
    ('text: "dC/dw2 multiplies', 'words: "dC/dw2 multiplies', "mistakes.w2_times_x", "the keys loss and text"),
])
def test_a_bad_mistake_declaration_names_file_key_and_expectation(tmp_path, old, new, key, expected):
    with pytest.raises(PackError) as info:
        bpgrade.load_pack(mistake_pack(tmp_path, old, new))
    assert info.value.key == key and expected in str(info.value)


def test_a_declarative_network_declares_no_mistakes(tmp_path):
    pack_dir = shutil.copytree(SHIPPED_DIR / "mlp2", tmp_path / "mlp2")
    with (pack_dir / "exercise.yaml").open("a") as f:
        f.write("mistakes: {}\n")
    with pytest.raises(PackError) as info:
        bpgrade.load_pack(pack_dir)
    assert info.value.key == "mistakes" and "gets its mistake models from bpgrade" in str(info.value)


def test_a_wrong_solution_must_declare_its_diagnoses(tmp_path):
    pack_dir = mistake_pack(tmp_path, 'DIAGNOSES = {"w2": "mistake"}\n', "",
                            "selftest/w2_times_the_wrong_input.py")
    with pytest.raises(PackError) as info:
        selftest.solutions(bpgrade.load_pack(pack_dir))
    assert info.value.key == "DIAGNOSES" and "each target of FAILS its diagnosis code" in str(info.value)


def test_a_misdeclared_diagnosis_fails_the_selftest(tmp_path):
    pack_dir = mistake_pack(tmp_path, 'DIAGNOSES = {"w2": "mistake"}', 'DIAGNOSES = {"w2": "sign"}',
                            "selftest/w2_times_the_wrong_input.py")
    outcomes = [o for o in selftest.run(bpgrade.load_pack(pack_dir), seeds=(None,))
                if o.solution.path.stem == "w2_times_the_wrong_input"]
    assert not outcomes[0].ok and outcomes[0].misdiagnosed == ["w2: mistake, declared sign"]
    assert "but diagnosed w2: mistake, declared sign" in outcomes[0].describe()



def test_junit_carries_each_target_and_its_diagnosis(bpgrade_cmd, cli_env, tmp_path):
    wrong = ROOT / "exercises" / "mlp2" / "selftest" / "relu_mask_left_out.py"
    out = subprocess.run([*bpgrade_cmd, "check", str(wrong), "-e", "mlp2", "--format", "junit"],
                         capture_output=True, text=True, env=cli_env)
    assert out.returncode == 1, out.stderr
    suites = ET.fromstring(out.stdout)
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("5", "3", "0")
    cases = {c.get("name"): c for c in suites.iter("testcase")}
    assert list(cases) == ["w1", "b1", "w2", "b2", "x"]
    assert cases["w2"].find("failure") is None
    failure = cases["w1"].find("failure")
    assert failure.get("type") == "relu_mask" and failure.get("message").startswith("wrong in 24 of 24 cases")
    assert "Smallest failing case" in failure.text


def test_junit_of_a_batch_marks_a_submission_that_did_not_run_as_errors(bpgrade_cmd, cli_env, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "alice.py")
    (folder / "bob.py").write_text("import jax\n")
    out = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(tmp_path / "g.sqlite"),
                          "--format", "junit", "-q"], capture_output=True, text=True, env=cli_env)
    assert out.returncode == 0, out.stderr
    suites = ET.fromstring(out.stdout)
    by_name = {s.get("name"): s for s in suites.iter("testsuite")}
    assert by_name["mlp2: alice"].get("failures") == "0" and by_name["mlp2: bob"].get("errors") == "5"
    assert {e.get("type") for e in by_name["mlp2: bob"].iter("error")} == {"forbidden"}


def test_junit_survives_control_characters_in_messages():
    from bpgrade.exports import to_junit

    target = bpgrade.TargetResult("w1", False, 0.0, 1.0, "bad \x00\x1b[31m byte")
    report = bpgrade.Report("mlp2", "eve", "error", (target,), seconds=0.1)
    error = ET.fromstring(to_junit([report])).find(".//error")
    assert error.get("type") == "error" and "\x00" not in error.get("message")


FLOAT32_RETURNED = REFERENCE.read_text() + '''
_reference = {name: globals()[name] for name in ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x")}
for _name, _f in _reference.items():
    globals()[_name] = lambda x, y, params, _f=_f: _f(x, y, params).astype(np.float32)
'''

FLOAT32_COMPUTED = REFERENCE.read_text() + '''
_reference = {name: globals()[name] for name in ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x")}


def _single(x, y, params, f):
    small = {k: v.astype(np.float32) for k, v in params.items()}
    return f(x.astype(np.float32), y.astype(np.float32), small).astype(np.float64)


for _name, _f in _reference.items():
    globals()[_name] = lambda x, y, params, _f=_f: _single(x, y, params, _f)
'''

CENTRAL_DIFFERENCES = '''
import numpy as np

STEP = 1e-5


def loss(x, y, p):
    l1 = np.maximum(x @ p["w1"] + p["b1"], 0)
    return np.mean((l1 @ p["w2"] + p["b2"] - y) ** 2)


def numerical(f, value):
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        old = value[index]
        value[index] = old + STEP
        up = f()
        value[index] = old - STEP
        down = f()
        value[index] = old
        grad[index] = (up - down) / (2 * STEP)
    return grad


def grad_w1(x, y, params):
    return numerical(lambda: loss(x, y, params), params["w1"])


def grad_b1(x, y, params):
    return numerical(lambda: loss(x, y, params), params["b1"])


def grad_w2(x, y, params):
    return numerical(lambda: loss(x, y, params), params["w2"])


def grad_b2(x, y, params):
    return numerical(lambda: loss(x, y, params), params["b2"])


def grad_x(x, y, params):
    return numerical(lambda: loss(x, y, params), x)
'''


@pytest.mark.parametrize("source,words", [
    (FLOAT32_RETURNED, "right only to float32 precision"),
    (FLOAT32_COMPUTED, "right only to float32 precision"),
    (CENTRAL_DIFFERENCES, "close to the truth but not exact"),
], ids=["float32-returned", "float32-computed", "central-differences"])
def test_a_result_right_to_float32_or_approximated_is_precision_and_nothing_else(mlp2, tmp_path, source, words):
    path = tmp_path / "sub.py"
    path.write_text(source)
    report = bpgrade.check(mlp2, path)
    assert report.status == "ok", report.message
    failed = [t for t in report.targets if not t.passed]
    assert failed, "every target of these fails, or some of them: never one passes wrongly"
    for t in failed:
        assert t.diagnosis.code == "precision", (t.name, t.diagnosis)
        assert t.message.startswith(words) and "relu_mask" not in t.feedback and "times the truth" not in t.feedback
    if "float32" in words:
        assert len(failed) == 5 and all("compute in float64" in t.diagnosis.text for t in failed)
    else:
        assert all("finite differences" in t.diagnosis.text for t in failed)


def test_values_that_differ_past_six_digits_are_shown_with_the_digits_that_differ(mlp2, reference):
    def grad_b1(x, y, p):
        return reference["grad_b1"](x, y, p) * (1 + 3e-7)

    message = bpgrade.check(mlp2, {"b1": grad_b1}).targets[1].message
    expected, got = re.search(r"expected (\S+), got (\S+) ", message).groups()
    assert expected != got and float(got) / float(expected) == pytest.approx(1 + 3e-7, rel=1e-6)


def test_a_hypothesis_that_is_the_truth_is_never_named(mlp2, public_cases):
    """The ReLU-mask mistake models leave b2 as it is, and so does a factor 1: a b2 within 1e-6 of
    the truth fits them, and must not be told either (it was told relu_mask)."""
    from bpgrade import truth
    from bpgrade.diagnosis import Diagnoser

    b2 = mlp2.targets[3]
    expected = [g["b2"] for g in truth.gradients(mlp2.model, {"b2": "b2"}, public_cases)]
    got = [e * (1 + 1e-7) for e in expected]
    everywhere = list(range(len(public_cases)))
    variants = truth.variant_gradients([m.model for m in mlp2.mistakes], {"b2": "b2"}, public_cases)
    assert Diagnoser(mlp2, public_cases, variants).values(b2, "", everywhere, expected, got, everywhere) is None


@pytest.mark.parametrize("returned,said", [
    ("None", "returned None: is a `return` missing?"),
    ("{'w1': x}", "returned a dict, not an array of numbers"),
    ("'0.5'", "returned text, not an array of numbers"),
    ("(x, y, params)", "returned a tuple of 3 items, not an array of numbers"),
    ("np.array(['a', 'b'])", "returned an array of text, not an array of real numbers"),
])
def test_what_a_function_returned_instead_of_an_array_is_said(mlp2, tmp_path, returned, said):
    path = tmp_path / "sub.py"
    path.write_text(f"import numpy as np\n\n\ndef grad_w1(x, y, params):\n    return {returned}\n")
    w1 = bpgrade.check(mlp2, path).targets[0]
    assert w1.message == f"in case 0 (N=1, d=3, h=4, seed 0), grad_w1 {said}"
    assert w1.diagnosis.code == "error" and w1.diagnosis.text.startswith(f"grad_w1 {said}")
    assert w1.diagnosis.text.endswith("It must return d loss / d w1 as an array of shape (d, h).")
    assert "raised" not in w1.feedback and "<U" not in w1.feedback


def test_a_stub_is_not_implemented_yet_in_one_line(mlp2, tmp_path):
    path = tmp_path / "sub.py"
    path.write_text(REFERENCE.read_text().replace('def grad_x(x, y, params):',
                                                  'def grad_x(x, y, params):\n    raise NotImplementedError\n'))
    report = bpgrade.check(mlp2, path)
    x = report.targets[4]
    assert (x.message, x.diagnosis.code, x.diagnosis.text) == (
        "grad_x is not implemented yet", "not_implemented", "grad_x is not implemented yet")
    assert report.score == 4.0


def test_a_reason_several_targets_share_is_written_once(mlp2, tmp_path):
    path = tmp_path / "sub.py"
    path.write_text("def grad_w1(x, y, params)\n    return x\n")
    text = bpgrade.check(mlp2, path).to_text()
    assert text.count("SyntaxError") == 1
    assert text.count("same as the status above") == 5


def test_every_line_of_the_text_table_fits_its_width_but_the_values():
    """The smallest failing case's heading wraps like the rest; only the rows of values keep their layout."""
    pack = bpgrade.load_pack("mlp-deep")
    namespace = {}
    exec((SHIPPED_DIR / "mlp-deep" / "selftest" / "reference.py").read_text(), namespace)
    report = bpgrade.check(pack, {"delta": lambda *a: [2 * d for d in namespace["grad_delta"](*a)]})
    lines = report.to_text(width=60).splitlines()
    assert any(line.strip().startswith("Smallest failing case:") for line in lines)
    assert all(len(line) <= 60 for line in lines if not line.strip().startswith(("expected", "received", "[")))
