"""Hidden case sets: graded like the public ones, reported only as counts."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import yaml

import bpgrade
from bpgrade import exports, gradescope, truth
from bpgrade.classreport import class_report
from bpgrade.packs import SHIPPED_DIR

from conftest import REFERENCE

HIDDEN_SEED = 4242


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory):
    pack_dir = tmp_path_factory.mktemp("packs") / "mlp2-hidden"
    shutil.copytree(SHIPPED_DIR / "mlp2", pack_dir)
    data = yaml.safe_load((pack_dir / "exercise.yaml").read_text())
    data["name"] = "mlp2-hidden"
    data["cases"]["hidden_seed"] = HIDDEN_SEED
    (pack_dir / "exercise.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return pack_dir


@pytest.fixture(scope="module")
def pack(pack_dir):
    return bpgrade.load_pack(pack_dir)


@pytest.fixture(scope="module")
def cases(pack):
    return bpgrade.generate_cases(pack)


@pytest.fixture(scope="module")
def reference():
    namespace = {}
    exec(REFERENCE.read_text(), namespace)
    return namespace


def test_hidden_cases_follow_the_public_ones(pack, cases):
    public = [c for c in cases if not c.hidden]
    hidden = [c for c in cases if c.hidden]
    assert len(public) == len(hidden) == pack.cases.shapes * pack.cases.per_shape
    assert cases[:len(public)] == tuple(public)
    assert [c.index for c in cases] == list(range(len(cases)))
    assert {c.seed for c in public} == {pack.cases.public_seed} and {c.seed for c in hidden} == {HIDDEN_SEED}
    assert all(c.describe() == "a hidden case" for c in hidden)
    assert "seed 0" in public[0].describe()
    assert not np.array_equal(public[0].tensors["x"], hidden[0].tensors["x"])


def test_a_seed_gives_one_set_and_nothing_hidden(pack):
    assert not any(c.hidden for c in bpgrade.generate_cases(pack, seed=HIDDEN_SEED))


def memoriser(pack, cases, reference):
    """The reference for every target but b2, whose answers are memorised for the public cases only."""
    answers = {c.tensors["x"].tobytes(): g["b2"]
               for c, g in zip(cases, truth.gradients(pack.model, {"b2": "b2"}, cases)) if not c.hidden}
    functions = {name: reference[f"grad_{name}"] for name in ("w1", "b1", "w2", "x")}
    functions["b2"] = lambda x, y, params: answers.get(x.tobytes(), np.zeros(1))
    return functions


def test_memorising_the_public_cases_fails_on_the_hidden_ones(pack, cases, reference):
    report = bpgrade.check(pack, memoriser(pack, cases, reference))
    b2 = {t.name: t for t in report.targets}["b2"]
    assert not b2.passed and b2.score == 0
    assert (b2.cases, b2.cases_passed, b2.hidden_cases, b2.hidden_passed) == (48, 24, 24, 0)
    assert b2.message == "right in the 24 public cases, wrong in 24 of 24 hidden cases (whose values are not shown)"
    assert report.score == 4 and report.hidden_cases == 24


def renderings(report) -> list[str]:
    """A report in every format a student or a course pipeline may see."""
    return [report.to_json(), report.to_text(), report.to_markdown(), report.to_html(),
            json.dumps(gradescope.results(report)), exports.to_junit([report]), exports.to_csv([report]),
            exports.to_markdown([report]), class_report([report])]


def test_failures_in_hidden_cases_name_no_dims_shapes_or_values(pack, cases, reference):
    hidden_x = {c.tensors["x"].tobytes() for c in cases if c.hidden}

    def broken(kind):
        def grad_w1(x, y, params):
            g = reference["grad_w1"](x, y, params)
            if x.tobytes() not in hidden_x:
                return g
            return {"shape": g.T, "nonfinite": g * np.nan, "value": g + 1.0}[kind]
        return {"w1": grad_w1}

    messages = {}
    for kind in ("shape", "nonfinite", "value"):
        report = bpgrade.check(pack, broken(kind))
        w1 = report.targets[0]
        assert not w1.passed and w1.hidden_passed < w1.hidden_cases
        messages[kind] = w1.message
        assert "expected" not in w1.message.replace("(expected (d, h))", "")
        for rendered in renderings(report):
            assert str(HIDDEN_SEED) not in rendered and "received" not in rendered
    assert messages["shape"] == "grad_w1 returned the wrong shape in a hidden case (expected (d, h))"
    assert messages["nonfinite"].endswith("is not finite in a hidden case")
    assert messages["value"].startswith("right in the 24 public cases, wrong in 24 of 24 hidden cases")


def test_a_public_failure_is_shown_with_the_hidden_counts(pack, reference):
    report = bpgrade.check(pack, {"w1": lambda x, y, params: 2 * reference["grad_w1"](x, y, params)})
    message = report.targets[0].message
    assert message.startswith("wrong in 24 of 24 public cases and 24 of 24 hidden cases; worst: w1[")
    assert "seed 0)" in message and "expected" in message


def test_through_the_cli_every_format_counts_the_hidden_cases(pack_dir, bpgrade_cmd, cli_env, tmp_path):
    out = subprocess.run([*bpgrade_cmd, "check", str(REFERENCE), "-e", str(pack_dir), "--format", "json"],
                         capture_output=True, text=True, env=cli_env)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert (record["cases"], record["hidden_cases"], record["seed"]) == (48, 24, 0)
    assert all((t["hidden_cases"], t["hidden_cases_passed"]) == (24, 24) for t in record["targets"])
    text = subprocess.run([*bpgrade_cmd, "check", str(REFERENCE), "-e", str(pack_dir)],
                          capture_output=True, text=True, env=cli_env).stdout
    assert "48 cases (seed 0, 24 of them hidden)" in text and str(HIDDEN_SEED) not in text
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "alice.py")
    graded = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", str(pack_dir), "--db",
                             str(tmp_path / "book.sqlite"), "--format", "jsonl"],
                            capture_output=True, text=True, env=cli_env)
    assert graded.returncode == 0, graded.stderr
    [line] = graded.stdout.splitlines()
    assert json.loads(line)["hidden_cases"] == 24 and str(HIDDEN_SEED) not in line


def hidden_values(cases) -> list[str]:
    """How the hidden cases' inputs would read in a message: each x's entries, as Python prints them."""
    return [repr(float(v)) for c in cases if c.hidden for v in c.tensors["x"].flat]


SAYS_THE_INPUTS = REFERENCE.read_text() + '''
import gc
import sys

calls = 0


class Leak(Exception):
    pass


_b1 = grad_b1


def grad_b1(x, y, params):
    global calls
    calls += 1
    if calls > 24:  # the hidden cases: say what they are, in every way a submission may
        print("inputs", x.tolist(), flush=True)
        raise ValueError(f"{x.tolist()}")
    return _b1(x, y, params)


def grad_w2(x, y, params):
    if calls > 24:
        raise type("E" + str(abs(hash(x.tobytes()))), (Exception,), {})()
    return x  # the wrong shape in a public case: the message shows what it returned


def grad_b2(x, y, params):
    if calls > 24:
        return {"b2": str(x.tolist())}
    return {"b2": x}
'''


def test_what_a_submission_says_in_a_hidden_case_is_never_shown(pack, cases, tmp_path):
    path = tmp_path / "says_the_inputs.py"
    path.write_text(SAYS_THE_INPUTS)
    report = bpgrade.check(pack, path)
    by_name = {t.name: t for t in report.targets}
    assert report.status == "ok" and by_name["w1"].passed and by_name["x"].passed
    assert by_name["b1"].message == "grad_b1 raised ValueError in a hidden case"
    assert by_name["b1"].diagnosis.code == "error"
    assert "inputs" not in report.output  # printed after it saw the hidden cases
    leaks = hidden_values(cases)
    for rendered in [*renderings(report), report.output]:
        assert not any(value in rendered for value in leaks)
        assert str(HIDDEN_SEED) not in rendered


FINDS_THE_HIDDEN_INPUTS = REFERENCE.read_text() + '''
import gc
import sys

import numpy as np


def grad_w1(x, y, params):
    """In a public case: every float64 array this process holds, in the error message."""
    seen = [o for o in gc.get_objects() if isinstance(o, (list, tuple, dict))]
    frame, found = sys._getframe(), []
    while frame is not None:
        seen.extend(frame.f_locals.values())
        frame = frame.f_back
    stack = list(seen)
    while stack and len(found) < 2000:
        item = stack.pop()
        if isinstance(item, np.ndarray) and item.dtype == np.float64:
            found.extend(item.ravel().tolist()[:4])
        elif isinstance(item, (list, tuple)):
            stack.extend(item[:100])
        elif isinstance(item, dict):
            stack.extend(list(item.values())[:100])
    raise ValueError(" ".join(map(repr, found)))
'''


def test_a_public_case_cannot_reach_the_hidden_inputs(pack, cases, tmp_path):
    """The worker holds only the public cases until it has sent their results: what it
    says in a public case (shown in full) cannot carry the hidden ones."""
    path = tmp_path / "finds_the_hidden_inputs.py"
    path.write_text(FINDS_THE_HIDDEN_INPUTS)
    report = bpgrade.check(pack, path)
    w1 = report.targets[0]
    assert "ValueError" in w1.message and "in case 0" in w1.message
    public = [repr(float(v)) for c in cases if not c.hidden for v in c.tensors["x"].flat]
    assert any(value in w1.message for value in public)  # it does see the public inputs
    assert not any(value in w1.message for value in hidden_values(cases))


def test_a_hidden_case_is_never_printed(pack_dir, bpgrade_cmd, cli_env):
    proc = subprocess.run([*bpgrade_cmd, "case", str(pack_dir), "30"], capture_output=True, text=True, env=cli_env)
    assert proc.returncode == 2 and "case 30 is a hidden case: its values are not shown" in proc.stderr
    assert proc.stdout == ""
