"""The real command line, end to end, as a student and a CI pipeline use it."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REFERENCE, ROOT, SUBMISSIONS

from test_grading_mlp2 import MISTAKES, write_mistake

TARGET_KEYS = {"name", "passed", "score", "max_score", "message", "diagnosis"}


@pytest.fixture(scope="module")
def run(bpgrade_cmd, cli_env):
    def run(*args, cwd=None):
        return subprocess.run([*bpgrade_cmd, *map(str, args)], capture_output=True, text=True, env=cli_env,
                              cwd=cwd, timeout=120)
    return run


@pytest.fixture(scope="module")
def wrong(tmp_path_factory):
    return write_mistake(tmp_path_factory.mktemp("wrong"), *MISTAKES[4][:3])  # ReLU mask left out


def test_check_of_the_reference_prints_a_passing_table(run):
    proc = run("check", REFERENCE, "-e", "mlp2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("bpgrade mlp2: mlp2, 24 cases (seed 0)")
    assert lines[1].split() == ["target", "result", "points", "reason"]
    for name in ("w1", "b1", "w2", "b2", "x"):
        assert any(line.split()[:3] == [name, "pass", "1/1"] for line in lines)
    assert lines[-1] == "score 5/5"


def test_check_of_a_wrong_solution_exits_1_and_names_the_wrong_targets(run, wrong):
    proc = run("check", wrong, "-e", "mlp2")
    assert proc.returncode == 1
    rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()
            if line.split()[:1] in (["w1"], ["b1"], ["w2"], ["b2"], ["x"])}
    assert rows == {"w1": "FAIL", "b1": "FAIL", "w2": "pass", "b2": "pass", "x": "FAIL"}
    assert "wrong in" in proc.stdout and "expected" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "score 2/5"


def test_json_is_exactly_one_object_with_the_spec_fields(run, wrong):
    proc = run("check", wrong, "-e", "mlp2", "--format", "json", "--seed", "5")
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["exercise"] == "mlp2" and record["submission"] == "relu_mask_left_out"
    assert record["status"] == "ok" and record["score"] == 2.0 and record["max_score"] == 5.0
    assert record["seed"] == 5
    assert [t["name"] for t in record["targets"]] == ["w1", "b1", "w2", "b2", "x"]
    for t in record["targets"]:
        assert TARGET_KEYS <= set(t)
        assert (t["diagnosis"] is None) if t["passed"] else ("diagnosis" in t)


def test_json_stays_clean_when_the_submission_prints(run, tmp_path):
    noisy = tmp_path / "noisy.py"
    noisy.write_text('print("{\\"score\\": 5}")\n' + REFERENCE.read_text() + "\nprint('more noise')\n")
    proc = run("check", noisy, "-e", "mlp2", "--format", "json")
    assert proc.returncode == 0
    record = json.loads(proc.stdout)
    assert record["score"] == 5.0 and "more noise" not in proc.stdout
    text = run("check", noisy, "-e", "mlp2")
    assert "more noise" not in text.stdout and "  | more noise" in text.stderr


def test_output_file(run, tmp_path):
    out = tmp_path / "result.json"
    proc = run("check", REFERENCE, "-e", "mlp2", "--format", "json", "-o", out)
    assert proc.returncode == 0 and proc.stdout == ""
    assert json.loads(out.read_text())["score"] == 5.0


@pytest.mark.parametrize("args,message", [
    (["check", "missing.py", "-e", "mlp2"], "missing.py: no such file"),
    # A folder is checked as bpgrade grade checks a sub-folder: here, one without a .py file.
    (["check", ".", "-e", "mlp2"], "/: no .py or .ipynb file to grade; it holds"),
    (["check", REFERENCE.parent.parent / "pyproject.toml", "-e", "mlp2"], "expected a Python file"),
    (["check", REFERENCE, "-e", "mlp9"], "shipped pack (cs231n-layers, cs231n-neuralnet, cs231n-twolayer, "
                                         "dls-planar, fastai-backprop, graph, layernorm, makemore-backprop, "
                                         "mlp-deep, mlp2, neuron3, softmax-ce)"),
    (["check", REFERENCE, "-e", "mlp2", "--device", "tpu"], "no tpu device"),
    (["check", REFERENCE, "-e", "mlp2", "--format", "yaml"], "invalid choice"),
    (["check", REFERENCE, "-e", "mlp2", "--timeout", "-1"], "positive number of seconds"),
    (["check", REFERENCE], "-e/--exercise"),
    (["frobnicate"], "invalid choice"),
], ids=["missing-file", "folder", "not-python", "unknown-pack", "no-device", "bad-format", "bad-timeout",
        "no-exercise", "bad-command"])
def test_usage_errors_exit_2_with_a_message(run, args, message):
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_list_shows_the_shipped_packs(run):
    proc = run("list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "cs231n-layers", "cs231n-neuralnet", "cs231n-twolayer", "dls-planar", "fastai-backprop", "graph", "layernorm",
        "makemore-backprop", "mlp-deep", "mlp2", "neuron3", "softmax-ce"]
    assert "(targets: w1, b1, w2, b2, x; 5 points)" in lines[9]


def test_init_of_a_package_pack_says_where_the_file_goes_and_what_to_check(run, tmp_path):
    proc = run("init", "cs231n-twolayer", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "cs231n/classifiers/fc_net.py of your assignment folder" in proc.stdout
    assert "bpgrade check ASSIGNMENT_FOLDER -e cs231n-twolayer" in proc.stdout
    assert "class TwoLayerNet" in (tmp_path / "cs231n-twolayer.py").read_text()


def test_init_writes_the_template_then_check_explains_what_is_left(run, tmp_path):
    proc = run("init", "mlp2", cwd=tmp_path)
    assert proc.returncode == 0 and "bpgrade check mlp2.py -e mlp2" in proc.stdout
    written = tmp_path / "mlp2.py"
    assert "def grad_w1(x, y, params):" in written.read_text()
    again = run("init", "mlp2", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert run("init", "mlp2", "--force", cwd=tmp_path).returncode == 0
    (tmp_path / "hw").mkdir()
    assert run("init", "mlp2", "hw", cwd=tmp_path).returncode == 0 and (tmp_path / "hw" / "mlp2.py").is_file()
    check = run("check", written, "-e", "mlp2")
    # An untouched template: one line per function, no advice.
    assert check.returncode == 1 and check.stdout.count("is not implemented yet") == 5
    assert "Call it yourself" not in check.stdout and len(check.stdout.splitlines()) == 8


def test_help_explains_the_commands(run):
    top = run("--help")
    assert top.returncode == 0 and "bpgrade check my_mlp2.py -e mlp2" in top.stdout
    check = run("check", "--help")
    assert check.returncode == 0
    for words in ("--format", "--seed", "--device", "Exit code 0"):
        assert words in check.stdout


def test_console_script_is_installed(cli_env):
    exe = shutil.which("bpgrade")
    if exe is None:
        pytest.skip("bpgrade is not installed in this environment")
    proc = subprocess.run([exe, "check", str(REFERENCE), "-e", "mlp2"], capture_output=True, text=True,
                          env=cli_env, timeout=120)
    assert proc.returncode == 0 and "score 5/5" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="workers change uid only when the grader runs as root")
def test_scratch_that_workers_cannot_enter_is_a_clear_error(bpgrade_cmd, cli_env, tmp_path):
    shut = tmp_path / "shut"
    shut.mkdir(mode=0o700)
    proc = subprocess.run([*bpgrade_cmd, "check", str(REFERENCE), "-e", "mlp2"], capture_output=True, text=True,
                          env={**cli_env, "TMPDIR": str(shut)}, timeout=120)
    assert proc.returncode == 1 and "set TMPDIR" in proc.stderr and "Traceback" not in proc.stderr
    assert list(shut.iterdir()) == []


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "junit", "gradescope"])
def test_check_of_text_that_cannot_be_encoded_exits_1_with_clean_output(run, fmt):
    proc = run("check", SUBMISSIONS / "hostile" / "raises_unencodable.py", "-e", "mlp2", "--format", fmt)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "\x1b" not in proc.stdout + proc.stderr
    assert "\ufffd" in (json.dumps(json.loads(proc.stdout), ensure_ascii=False) if fmt in ("json", "gradescope")
                         else proc.stdout)


def test_check_does_not_follow_a_link_out_of_its_folder(run, tmp_path):
    (tmp_path / "inside").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=SECRET-LINE\n")
    (tmp_path / "inside" / "mlp2.py").symlink_to(secret)
    proc = run("check", tmp_path / "inside" / "mlp2.py", "-e", "mlp2")
    assert proc.returncode == 2 and "symbolic link that leads out" in proc.stderr
    assert "SECRET-LINE" not in proc.stdout + proc.stderr
    (tmp_path / "inside" / "ref.py").write_text(REFERENCE.read_text())
    (tmp_path / "inside" / "linked.py").symlink_to("ref.py")
    assert run("check", tmp_path / "inside" / "linked.py", "-e", "mlp2").returncode == 0


def test_a_terminal_escape_in_a_file_name_never_reaches_the_terminal(run, tmp_path):
    path = tmp_path / "\x1b]0;owned\x07\x1b[2J.py"
    path.write_text(REFERENCE.read_text())
    proc = run("check", path, "-e", "mlp2")
    assert proc.returncode == 0 and "\x1b" not in proc.stdout + proc.stderr
    assert "\\x1b]0;owned\\x07\\x1b[2J" in proc.stdout


def test_max_size_refuses_larger_code_with_a_message(run):
    proc = run("check", REFERENCE, "-e", "mlp2", "--max-size", "0.001", "--format", "json")
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["status"] == "error" and "(--max-size)" in record["message"]
    assert run("check", REFERENCE, "-e", "mlp2", "--max-size", "0.5").returncode == 0
    bad = run("check", REFERENCE, "-e", "mlp2", "--max-size", "0")
    assert bad.returncode == 2 and "positive number of MiB" in bad.stderr


def test_show_prints_the_statement_and_init_says_where_it_is(run, tmp_path):
    shown = run("show", "mlp2")
    assert shown.returncode == 0 and shown.stdout == (ROOT / "exercises" / "mlp2" / "README.md").read_text()
    assert "bpgrade show mlp2" in run("init", "mlp2", cwd=tmp_path).stdout


def test_case_prints_code_that_builds_the_arguments_bit_for_bit(run, mlp2):
    import numpy as np

    import bpgrade

    proc = run("case", "mlp2", "13")
    assert proc.returncode == 0, proc.stderr
    namespace = {}
    exec(proc.stdout, namespace)
    case = bpgrade.generate_cases(mlp2)[13]
    for name in ("x", "y"):
        assert namespace[name].dtype == np.float64 and np.array_equal(namespace[name], case.tensors[name])
    for name in ("w1", "b1", "w2", "b2"):
        assert np.array_equal(namespace["params"][name], case.tensors[name])
    other = run("case", "mlp2", "2", "--seed", "7")
    assert other.returncode == 0 and "seed 7" in other.stdout
    missing = run("case", "mlp2", "24")
    assert missing.returncode == 2 and "mlp2 has cases 0 to 23, not 24" in missing.stderr


def test_an_error_diagnosis_says_how_to_get_the_case(run, tmp_path):
    path = tmp_path / "sub.py"
    path.write_text("def grad_w1(x, y, params):\n    return 1 / 0\n")
    proc = run("check", path, "-e", "mlp2")
    assert "(`bpgrade case mlp2 0` prints its arguments)" in " ".join(proc.stdout.split())


def test_help_names_docs_that_are_installed(run):
    text = run("--help").stdout
    named = re.findall(r"\((\S+/integrations\.md)\)", text)
    assert named and Path(named[0]).is_file()
    assert Path(re.findall(r"\((\S+/authoring\.md)\)", run("new", "--help").stdout.replace("\n", " "))[0]).is_file()


def fork_servers() -> set[int]:
    """The pids of bpgrade fork servers running now."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"from bpgrade._worker import main" in f.read():
                    found.add(int(pid))
        except OSError:
            pass
    return found


def test_a_command_starts_its_fork_server_first_and_leaves_none_behind(run):
    """check, grade and gradescope start the fork server before importing the grader; one that ends
    before using it (a usage error, --help, a missing file) ends it too."""
    before = fork_servers()
    ran = [run("check", "--help"), run("check", "missing.py", "-e", "mlp2"), run("grade", "-e", "mlp2"),
           run("check", REFERENCE, "-e", "mlp2")]
    assert [r.returncode for r in ran] == [0, 2, 2, 0]
    assert "missing.py: no such file" in ran[1].stderr and "score 5/5" in ran[3].stdout
    assert fork_servers() <= before
