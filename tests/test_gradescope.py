"""Gradescope: results.json in its schema, the run_autograder command, and the autograder zip
run end to end in a layout like Gradescope's /autograder."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bpgrade
from bpgrade import _confine, gradescope
from bpgrade.packs import SHIPPED_DIR

from conftest import REFERENCE, ROOT
from test_grade_cli import with_helper_module

WRONG = SHIPPED_DIR / "mlp2" / "selftest" / "w1_transposed.py"
TEST_KEYS = {"name": str, "number": str, "score": float, "max_score": float, "status": str, "output": str,
             "visibility": str}


def assert_valid(results: dict, max_score: float) -> None:
    """Gradescope's results.json schema (gradescope-autograders.readthedocs.io, "Output format"),
    and the contract on top of it: a test per target whose scores add up."""
    assert isinstance(results["score"], float)
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] >= 0
    assert isinstance(results["output"], str) and results["output"]
    assert results["visibility"] in gradescope.VISIBILITIES
    assert results["stdout_visibility"] in gradescope.VISIBILITIES
    assert results["output_format"] in ("text", "html", "simple_format", "md", "ansi")
    for test in results["tests"]:
        assert {k: type(v) for k, v in test.items()} == TEST_KEYS, test
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in gradescope.VISIBILITIES
        assert 0 <= test["score"] <= test["max_score"]
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == max_score
    json.dumps(results, allow_nan=False)


@pytest.fixture(scope="module")
def mlp2_max(mlp2):
    return mlp2.max_score


def test_results_of_a_wrong_submission(mlp2, mlp2_max):
    results = gradescope.results(bpgrade.check(mlp2, WRONG))
    assert_valid(results, mlp2_max)
    assert results["score"] == 4.0
    w1 = results["tests"][0]
    assert (w1["name"], w1["status"], w1["score"]) == ("w1", "failed", 0.0)
    assert "transpose:" in w1["output"]
    assert [t["status"] for t in results["tests"][1:]] == ["passed"] * 4


def test_results_never_name_the_seed_nor_what_the_submission_printed(mlp2, tmp_path):
    printer = tmp_path / "printer.py"
    printer.write_text(REFERENCE.read_text() + "\nprint('SECRET-PRINT')\n")
    results = gradescope.results(bpgrade.check(mlp2, printer, seed=987654))
    assert "987654" not in results["output"] and "SECRET-PRINT" not in json.dumps(results)


def test_crash_results_are_valid_and_give_no_points(mlp2, mlp2_max):
    results = gradescope.crash_results(mlp2, "it broke", 0.5)
    assert_valid(results, mlp2_max)
    assert results["score"] == 0.0 and results["tests"][0]["output"] == "it broke"
    assert gradescope.crash_results(None, "no pack", 0.1)["tests"] == []
    with pytest.raises(bpgrade.BpgradeError, match="visibility must be one of"):
        gradescope.crash_results(mlp2, "x", 0.1, visibility="everyone")


@pytest.mark.parametrize("files, chosen", [
    ({"anything.py": "ref"}, "anything.py"),
    ({"notes.txt": "", "sub/deep.py": "ref"}, "sub/deep.py"),
    ({"helper.py": "def grad_w1(x, y, params): pass\n", "hw.py": "ref"}, "hw.py"),
])
def test_the_file_that_defines_the_functions_is_the_submission(mlp2, tmp_path, files, chosen):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(REFERENCE.read_text() if text == "ref" else text)
    assert gradescope.find_submission(tmp_path, mlp2).path == tmp_path / chosen


@pytest.mark.parametrize("files, error", [
    ({}, "no .py or .ipynb file was submitted; upload the file that defines grad_w1"),
    ({"notes.txt": ""}, "no .py or .ipynb file was submitted"),
    ({"a.py": "x = 1\n", "b.py": "y = 2\n"}, r"several files could be the submission \(a.py, b.py\)"),
])
def test_no_submission_or_an_ambiguous_one_is_said(mlp2, tmp_path, files, error):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(bpgrade.SubmissionError, match=error):
        gradescope.find_submission(tmp_path, mlp2)
    results = gradescope.autograde(mlp2, tmp_path)
    assert results["score"] == 0.0 and error.split(" ")[0] in results["output"]


def run_gradescope(bpgrade_cmd, cli_env, *args):
    return subprocess.run([*bpgrade_cmd, "gradescope", *map(str, args)], capture_output=True, text=True,
                          env=cli_env, timeout=180)


@pytest.mark.parametrize("submission, status, score", [
    (REFERENCE, "ok", 5.0),
    (ROOT / "tests" / "submissions" / "hostile" / "syntax_error.py", "error", 0.0),
    (ROOT / "tests" / "submissions" / "hostile" / "sys_exit.py", "error", 0.0),
])
def test_cli_writes_results_json_for_a_good_and_a_crashing_submission(bpgrade_cmd, cli_env, tmp_path, mlp2_max,
                                                                       submission, status, score):
    (tmp_path / "submission").mkdir()
    shutil.copy(submission, tmp_path / "submission" / "hw3.py")
    proc = run_gradescope(bpgrade_cmd, cli_env, "-e", "mlp2", "--submission-dir", tmp_path / "submission",
                          "--results", tmp_path / "out" / "results.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert_valid(results, mlp2_max)
    assert results["score"] == score
    assert ("did not run" in results["output"]) == (status != "ok")


def test_a_broken_autograder_still_writes_results_json_and_exits_2(bpgrade_cmd, cli_env, tmp_path):
    proc = run_gradescope(bpgrade_cmd, cli_env, "-e", tmp_path / "no-such-pack", "--submission-dir", tmp_path,
                          "--results", tmp_path / "results.json")
    assert proc.returncode == 2
    assert "no-such-pack" in proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == 0.0 and results["tests"] == []
    assert "tell the course staff" in results["output"]


def test_hidden_cases_are_counts_only_on_gradescope(bpgrade_cmd, cli_env, tmp_path):
    pack_dir = tmp_path / "pack"
    shutil.copytree(ROOT / "tests" / "packs" / "tanh-mse", pack_dir)
    pack = bpgrade.load_pack(pack_dir)
    (tmp_path / "submission").mkdir()
    wrong = sorted(p for p in (pack_dir / "selftest").glob("*.py") if p.name != "reference.py")[0]
    shutil.copy(wrong, tmp_path / "submission" / "mine.py")
    results = gradescope.autograde(pack, tmp_path / "submission")
    assert_valid(results, pack.max_score)
    assert "hidden (only their counts are shown)" in results["output"]
    assert str(pack.cases.hidden_seed) not in json.dumps(results)


def test_check_and_grade_write_the_gradescope_format(bpgrade_cmd, cli_env, tmp_path, mlp2_max):
    proc = subprocess.run([*bpgrade_cmd, "check", str(WRONG), "-e", "mlp2", "--format", "gradescope"],
                          capture_output=True, text=True, env=cli_env, timeout=180)
    assert proc.returncode == 1
    assert_valid(json.loads(proc.stdout), mlp2_max)
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(WRONG, folder / "bob.py")
    shutil.copy(REFERENCE, folder / "alice.py")
    proc = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(tmp_path / "gb.sqlite"),
                           "--format", "gradescope", "-q"], capture_output=True, text=True, env=cli_env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    by_id = json.loads(proc.stdout)
    assert sorted(by_id) == ["alice", "bob"]
    for results in by_id.values():
        assert_valid(results, mlp2_max)
    assert (by_id["alice"]["score"], by_id["bob"]["score"]) == (5.0, 4.0)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    names = gradescope.bundle("mlp2", out, seed=77, timeout=4)
    return out, names


def test_bundle_holds_setup_run_autograder_the_pack_and_bpgrade(bundle):
    out, names = bundle
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == names
        infos = {i.filename: i for i in z.infolist()}
        for script in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
        run = z.read("run_autograder").decode()
        setup = z.read("setup.sh").decode()
        pyproject = z.read("bpgrade-src/pyproject.toml").decode()
    assert names[:2] == ["setup.sh", "run_autograder"]
    assert {"pack/exercise.yaml", "pack/selftest/reference.py", "bpgrade-src/bpgrade/cli.py",
            "bpgrade-src/bpgrade/exercises/mlp2/exercise.yaml"} <= set(names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "--seed 77" in run and "--timeout 4" in run and "gradescope -e" in run
    # setup.sh's self-test compiles the truth of the cases that run_autograder grades, into the image.
    assert "selftest -e pack --seeds 77" in setup
    assert 'BPGRADE_CACHE_DIR="$PWD/xla-cache"' in setup and 'BPGRADE_CACHE_DIR="$ROOT/source/xla-cache"' in run
    import jax
    assert f'"jax=={jax.__version__}"' in pyproject
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(out) as z:
            text = z.read(script).decode()
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def test_a_bundle_of_a_pack_that_allows_torch_installs_the_cpu_build_tested_here(bundle, tmp_path):
    torch = pytest.importorskip("torch")
    with zipfile.ZipFile(bundle[0]) as z:
        setup = z.read("setup.sh").decode()
    # mlp2 takes tensor solutions too; Gradescope's image must be able to run them.
    version = torch.__version__.partition("+")[0]
    assert f"--index-url https://download.pytorch.org/whl/cpu 'torch=={version}'" in setup
    gradescope.bundle("neuron3", tmp_path / "numpy.zip")
    with zipfile.ZipFile(tmp_path / "numpy.zip") as z:
        assert "torch" not in z.read("setup.sh").decode()


def test_bundle_passes_run_all_to_every_run(tmp_path):
    gradescope.bundle("mlp2", tmp_path / "a.zip", run_all=True)
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        run = z.read("run_autograder").decode()
    assert run.rstrip().endswith("--run-all") and "--seed" not in run
    assert subprocess.run(["bash", "-n"], input=run, text=True).returncode == 0


@pytest.fixture(scope="module")
def autograder(bundle, tmp_path_factory):
    """/autograder as Gradescope lays it out, with bpgrade installed from the zip's bpgrade-src
    (its dependencies are the ones of this environment, which setup.sh would have pinned)."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    source = root / "source"
    with zipfile.ZipFile(bundle[0]) as z:
        z.extractall(source)
    for script in ("setup.sh", "run_autograder"):
        (source / script).chmod(0o755)
    shutil.copy(source / "run_autograder", root / "run_autograder")
    site = root / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--verbose", "--no-deps", "--target", str(site),
                           str(source / "bpgrade-src")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # Setuptools has nothing to warn about in the bundle's build (Gradescope's log stays readable).
    assert "Warning" not in proc.stdout + proc.stderr
    (source / "venv" / "bin").mkdir(parents=True)
    shim = source / "venv" / "bin" / "bpgrade"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" -m bpgrade "$@"\n')
    shim.chmod(0o755)
    return root


def run_autograder(root: Path, cli_env, files: dict[str, Path | str]) -> tuple[subprocess.CompletedProcess, dict]:
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, content in files.items():
        target = root / "submission" / name
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(content)
    env = {k: v for k, v in cli_env.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, env=env,
                          timeout=180)
    return proc, json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_grades_with_its_own_copy_of_bpgrade(autograder, cli_env):
    proc = subprocess.run([str(autograder / "source" / "venv" / "bin" / "bpgrade"), "--version"],
                          capture_output=True, text=True, env=cli_env)
    assert proc.stdout.strip() == f"bpgrade {bpgrade.__version__}"
    site = autograder / "site"
    where = subprocess.run([sys.executable, "-c", "import bpgrade; print(bpgrade.__file__)"], capture_output=True,
                           text=True, env={**cli_env, "PYTHONPATH": str(site)}, cwd=autograder)
    assert where.stdout.startswith(str(site))


@pytest.mark.parametrize("files, score", [
    ({"mlp2.py": REFERENCE}, 5.0),
    ({"my_homework.py": WRONG, "README.md": "notes"}, 4.0),
    ({"hw.py": ROOT / "tests" / "submissions" / "hostile" / "endless_loop.py"}, 0.0),
    ({}, 0.0),
    # Chosen as bpgrade grade chooses a sub-folder's file; the module beside it is importable.
    ({"hw.py": with_helper_module(REFERENCE.read_text()), "utils.py": "def relu_mask(u):\n    return u > 0\n"}, 5.0),
])
def test_run_autograder_end_to_end(autograder, cli_env, mlp2_max, files, score):
    proc, results = run_autograder(autograder, cli_env, files)
    assert proc.returncode == 0, proc.stderr
    assert_valid(results, mlp2_max)
    assert results["score"] == score


def test_a_submission_cannot_forge_its_results(autograder, cli_env, mlp2_max):
    forger = ("import json, os\n"
              "forged = {'score': 100.0, 'tests': []}\n"
              "for path in ('/autograder/results/results.json', os.path.join(os.path.dirname(__file__),\n"
              "             '..', 'results', 'results.json'), os.path.join(os.getcwd(), 'results.json')):\n"
              "    try:\n"
              "        open(path, 'w').write(json.dumps(forged))\n"
              "    except OSError:\n"
              "        pass\n")
    proc, results = run_autograder(autograder, cli_env, {"forger.py": forger})
    assert_valid(results, mlp2_max)
    assert results["score"] == 0.0
    if _confine.landlock_abi() > 0:
        assert os.listdir(autograder / "results") == ["results.json"]
        assert "100.0" not in (autograder / "results" / "results.json").read_text()


def test_a_link_out_of_the_upload_is_not_followed(mlp2, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("root:x:0:0:SECRET-LINE\n")
    upload = tmp_path / "submission"
    upload.mkdir()
    (upload / "hw3.py").symlink_to(secret)
    with pytest.raises(bpgrade.SubmissionError, match="hw3.py is a symbolic link that leads out"):
        gradescope.find_submission(upload, mlp2)
    results = gradescope.autograde(mlp2, upload)
    assert results["score"] == 0.0 and "SECRET-LINE" not in json.dumps(results)
    (upload / "hw3.py").unlink()
    (upload / "sub").symlink_to(tmp_path, target_is_directory=True)  # a folder link is not walked into
    (upload / "real.py").write_text(REFERENCE.read_text())
    assert gradescope.find_submission(upload, mlp2).path == upload / "real.py"


def test_text_no_json_reader_takes_never_reaches_results_json(bpgrade_cmd, cli_env, tmp_path, mlp2_max):
    (tmp_path / "submission").mkdir()
    shutil.copy(ROOT / "tests" / "submissions" / "hostile" / "raises_unencodable.py", tmp_path / "submission")
    proc = run_gradescope(bpgrade_cmd, cli_env, "-e", "mlp2", "--submission-dir", tmp_path / "submission",
                          "--results", tmp_path / "results.json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert_valid(results, mlp2_max)
    text = json.dumps(results, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogate in any string
    assert "\x1b" not in text and "\x07" not in text
    assert "boom \ufffd" in results["tests"][0]["output"]


def test_bundle_passes_max_size_to_every_run(tmp_path):
    gradescope.bundle("mlp2", tmp_path / "a.zip", max_size=3 << 19)
    run = zipfile.ZipFile(tmp_path / "a.zip").read("run_autograder").decode()
    assert "--max-size 1.5" in run


def metadata(created: str, *previous: tuple[str, bool]) -> dict:
    """Gradescope's submission_metadata.json: earlier runs as (time, whether the autograder failed)."""
    runs = [{"submission_time": t, "score": 1.0,
             "results": {"extra_data": {"bpgrade": {"autograder_error": True}}} if failed else {"score": 1.0}}
            for t, failed in previous]
    return {"id": 7, "created_at": created, "previous_submissions": runs}


def test_the_daily_limit_counts_gradescopes_times_not_the_clock():
    day = "2026-11-20T{}:00.000000-08:00"
    now = day.format("18:00")
    # Two in the 24 hours before: within a limit of 3; a third makes this one the fourth.
    assert gradescope.feedback_returns(metadata(now, (day.format("09:00"), False), (day.format("12:00"), False)),
                                       3) is None
    earlier = [("2026-11-19T17:00:00-08:00", False), (day.format("09:00"), False), (day.format("12:00"), False),
               (day.format("15:00"), False)]
    back = gradescope.feedback_returns(metadata(now, *earlier), 3)
    assert back.isoformat(timespec="minutes") == "2026-11-21T09:00-08:00"  # 24 h after the oldest that counts
    # A run where the autograder failed does not count, marked by bpgrade or by Gradescope.
    earlier[3] = (day.format("15:00"), True)
    assert gradescope.feedback_returns(metadata(now, *earlier), 3) is None
    marked = metadata(now, *earlier[:3], (day.format("15:00"), False))
    marked["previous_submissions"][3]["autograder_error"] = True
    assert gradescope.feedback_returns(marked, 3) is None


def test_past_the_limit_the_score_stays_and_the_feedback_waits(mlp2, tmp_path):
    data = gradescope.results(bpgrade.check("mlp2", WRONG))
    day = "2026-11-20T{}:00+00:00"
    (tmp_path / "meta.json").write_text(json.dumps(metadata(day.format("18:00"), (day.format("10:00"), False))))
    limited, warning = gradescope.daily_limit(data, 1, tmp_path / "meta.json")
    assert warning is None and limited["score"] == data["score"] == 4.0
    assert {t["visibility"] for t in limited["tests"]} == {"after_due_date"}
    assert "2026-11-21T10:00+00:00" in limited["output"] and "score counts" in limited["output"]
    assert_valid(limited, 5.0)
    # Metadata that cannot be read limits nothing, and says so to the staff.
    unchanged, warning = gradescope.daily_limit(data, 1, tmp_path / "none.json")
    assert unchanged == data and "no daily limit applied" in warning


def test_a_bundle_without_hidden_cases_warns_and_hidden_seed_sets_them(bpgrade_cmd, cli_env, tmp_path):
    out = tmp_path / "a.zip"
    proc = subprocess.run([*bpgrade_cmd, "gradescope-bundle", "-e", "neuron3", "-o", str(out), "--max-per-day", "3"],
                          capture_output=True, text=True, env=cli_env, timeout=120)
    assert proc.returncode == 0 and "has no hidden cases" in proc.stderr
    with zipfile.ZipFile(out) as z:
        assert "--max-per-day 3" in z.read("run_autograder").decode()
    proc = subprocess.run([*bpgrade_cmd, "gradescope-bundle", "-e", "neuron3", "-o", str(out), "--hidden-seed", "99"],
                          capture_output=True, text=True, env=cli_env, timeout=120)
    assert proc.returncode == 0 and "warning" not in proc.stderr
    with zipfile.ZipFile(out) as z:
        z.extractall(tmp_path / "bundle")
        setup = z.read("setup.sh").decode()
    assert bpgrade.load_pack(tmp_path / "bundle" / "pack").cases.hidden_seed == 99
    assert "selftest -e pack --seeds public,99" in setup
