"""Pack self-tests through the real command line: every shipped pack, a pack
written from docs/authoring.md, `bpgrade new`, and self-tests that must fail."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import bpgrade
from bpgrade import selftest
from bpgrade.errors import PackError

from conftest import ROOT

DOCS_PACK = Path(__file__).resolve().parent / "packs" / "tanh-mse"
SHIPPED = ["cs231n-layers", "cs231n-neuralnet", "cs231n-twolayer", "dls-planar", "fastai-backprop", "graph",
           "layernorm", "makemore-backprop", "mlp-deep", "mlp2", "neuron3", "softmax-ce"]


def run(cmd, env, *args, cwd=None):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_every_shipped_pack_passes_its_selftest_on_two_seeds(bpgrade_cmd, cli_env):
    assert bpgrade.shipped_packs() == SHIPPED
    # Two command lines at once, half the packs each: compiling the truth keeps one core busy.
    halves = [[arg for pack in SHIPPED[i::2] for arg in ("-e", pack)] for i in (0, 1)]
    procs = [subprocess.Popen([*bpgrade_cmd, "selftest", "--seeds", "public,31337", *half], env=cli_env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for half in halves]
    outs = [proc.communicate(timeout=600) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outs
    lines = [line for out, _ in outs for line in out.splitlines()]
    for pack in SHIPPED:
        ok = [line for line in lines if line.startswith(f"ok    {pack} seed ")]
        # The reference and at least three wrong solutions, on each of the two seeds.
        assert len(ok) >= 2 * 4, (pack, lines)
        assert sum("reference passes every target" in line for line in ok) == 2
    assert not any(line.startswith("WRONG") for line in lines)


def test_the_pack_written_from_the_authoring_docs_passes_its_selftest(bpgrade_cmd, cli_env):
    out = run(bpgrade_cmd, cli_env, "selftest", "-e", str(DOCS_PACK))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "selftest: 9 of 9 held" in out.stdout


def test_new_writes_a_pack_that_passes_its_own_selftest(bpgrade_cmd, cli_env, tmp_path):
    out = run(bpgrade_cmd, cli_env, "new", "my-layer", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "my-layer"
    assert {p.name for p in folder.iterdir()} == {"exercise.yaml", "model.py", "template.py", "README.md", "selftest"}
    out = run(bpgrade_cmd, cli_env, "selftest", "-e", str(folder))
    assert out.returncode == 0 and "selftest: 6 of 6 held" in out.stdout, out.stdout + out.stderr
    # The template it hands out fails every target, as an unfilled template must.
    report = bpgrade.check(str(folder), folder / "template.py")
    assert report.score == 0 and len(report.targets) == 3
    again = run(bpgrade_cmd, cli_env, "new", "my-layer", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_new_with_a_harness_writes_a_course_interface_pack_that_passes_its_selftest(bpgrade_cmd, cli_env, tmp_path):
    out = run(bpgrade_cmd, cli_env, "new", "course-layer", "--dir", str(tmp_path), "--harness")
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "course-layer"
    assert (folder / "harness.py").is_file()
    out = run(bpgrade_cmd, cli_env, "selftest", "-e", str(folder))
    assert out.returncode == 0 and "selftest: 6 of 6 held" in out.stdout, out.stdout + out.stderr
    report = bpgrade.check(str(folder), folder / "template.py")
    assert report.score == 0 and [r.name for r in report.targets] == [
        "sigmoid_backward.dx", "sigmoid_backward.dw", "sigmoid_backward.db"]
    assert all(r.diagnosis.code == "not_implemented" for r in report.targets), report


def test_a_package_packs_selftest_runs_its_reference_folder_first():
    from bpgrade import selftest

    found = selftest.solutions(bpgrade.load_pack("cs231n-twolayer"))
    assert found[0].path.name == "reference" and found[0].path.is_dir() and len(found) >= 4


def test_a_wrong_solution_that_fails_other_targets_than_declared_fails_the_selftest(bpgrade_cmd, cli_env, tmp_path):
    pack = shutil.copytree(ROOT / "exercises" / "neuron3", tmp_path / "neuron3")
    wrong = pack / "selftest" / "w2_times_the_wrong_input.py"
    wrong.write_text(wrong.read_text().replace('FAILS = ["w2"]', 'FAILS = ["w2", "b2"]')
                     .replace('DIAGNOSES = {"w2": "mistake"}', 'DIAGNOSES = {"w2": "mistake", "b2": None}'))
    out = run(bpgrade_cmd, cli_env, "selftest", "-e", str(pack), "--seeds", "public")
    assert out.returncode == 1
    assert "WRONG neuron3 seed 0: w2_times_the_wrong_input fails w2, declared b2, w2" in out.stdout


def test_a_reference_that_fails_fails_the_selftest(bpgrade_cmd, cli_env, tmp_path):
    pack = shutil.copytree(ROOT / "exercises" / "graph", tmp_path / "graph")
    reference = pack / "selftest" / "reference.py"
    reference.write_text(reference.read_text().replace("return p + grad_q(x, y, z)", "return grad_q(x, y, z)"))
    out = run(bpgrade_cmd, cli_env, "selftest", "-e", str(pack), "--seeds", "public")
    assert out.returncode == 1 and "WRONG graph seed 0: reference fails x, declared nothing" in out.stdout


@pytest.mark.parametrize("fails", ["", "FAILS = []", "FAILS = ['nope']", "FAILS = compute()"])
def test_a_wrong_solution_must_declare_its_failures(tmp_path, fails):
    pack = shutil.copytree(ROOT / "exercises" / "graph", tmp_path / "graph")
    (pack / "selftest" / "bad.py").write_text(f"{fails}\n\ndef grad_x(x, y, z):\n    return 0.0\n")
    with pytest.raises(PackError) as info:
        selftest.solutions(bpgrade.load_pack(pack))
    assert info.value.file.endswith("bad.py") and "targets this solution must fail" in str(info.value)


@pytest.mark.parametrize("edits, expected", [("[('return p + grad_q(x, y, z)', 'return 0')]", None),
                                             ("[('no such line', 'x')]", "found exactly once"),
                                             ("[('return', 'x')]", "found exactly once"),
                                             ("['return']", "(old text, new text) pairs")])
def test_a_wrong_solution_may_be_the_reference_edited(tmp_path, edits, expected):
    pack = shutil.copytree(ROOT / "exercises" / "graph", tmp_path / "graph")
    (pack / "selftest" / "edited.py").write_text(f"EDITS = {edits}\nFAILS = ['x']\nDIAGNOSES = {{'x': None}}\n")
    if expected is not None:
        with pytest.raises(PackError, match=re.escape(expected)):
            selftest.solutions(bpgrade.load_pack(pack))
        return
    found = {s.path.stem: s for s in selftest.solutions(bpgrade.load_pack(pack))}
    runnable = selftest._runnable(bpgrade.load_pack(pack), found["edited"], found["reference"].path, tmp_path)
    assert runnable.name == "edited.py" and "return 0" in runnable.read_text()
    assert "return p + grad_q(x, y, z)" not in runnable.read_text()
