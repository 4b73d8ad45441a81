"""A batch of hostile submissions graded together with good and wrong ones.

Each hostile submission is bounded (a capped memory hog, a few forks), so that
a broken sandbox fails this test instead of taking the machine down. Each
declares in its docstring what must become of it (``EXPECT: status[, no
credit]``); every other submission must get exactly its right grade.
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bpgrade import _confine

from conftest import REFERENCE, SUBMISSIONS
from test_grading_mlp2 import ALL, MISTAKES, write_mistake
from test_runner import assert_gone

HOSTILE = sorted((SUBMISSIONS / "hostile").glob("*.py"))
GOOD = sorted((SUBMISSIONS / "mlp2").glob("good_*.py"))
WRONG = [MISTAKES[0], MISTAKES[4], MISTAKES[8]]
LANDLOCK = _confine.landlock_abi() > 0


def expectation(path: Path) -> tuple[str, bool]:
    """(status or "any", whether it must earn no credit) from the docstring's EXPECT."""
    match = re.search(r"EXPECT: (\w+)(, no credit)?", path.read_text())
    return (match.group(1), bool(match.group(2))) if match else ("ok", False)


def digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def uid_processes() -> list[str]:
    """Processes still running (not zombies) under the workers' uids."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/status"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
        state = re.search(r"^State:\s+(\w)", text, re.M).group(1)
        if 64000 <= uid < 64100 and state not in "ZX":
            alive.append(stat.parent.name)
    return alive


@pytest.fixture(scope="module")
def graded(tmp_path_factory, bpgrade_cmd, cli_env):
    root = tmp_path_factory.mktemp("hostile")
    batch = root / "batch"
    batch.mkdir()
    for path in [*HOSTILE, *GOOD, REFERENCE]:
        shutil.copy(path, batch / path.name)
    for name, old, new, *_ in WRONG:
        write_mistake(batch, name, old, new)
    db = root / "grades.sqlite"
    targets = [str(p) for p in sorted(batch.glob("*.py"))] + [str(db), str(REFERENCE)]
    (batch / "writes_other_files.py").write_text(
        f'"""Appends to other submissions, the gradebook and the reference. EXPECT: ok"""\nimport os\n'
        f"for path in {targets!r}:\n"
        "    for how in ('append', 'remove'):\n"
        "        try:\n"
        "            open(path, 'a').write('# pwned') if how == 'append' else os.remove(path)\n"
        "        except OSError:\n"
        "            pass\n")
    (batch / "reads_reference.py").write_text(
        f'"""Runs the reference solution from where it lies. EXPECT: any, no credit"""\n'
        f"try:\n    exec(open({str(REFERENCE)!r}).read())\nexcept OSError:\n    pass\n")
    before = digest(batch)
    reference_before = REFERENCE.read_bytes()
    scratch_before = set(Path(tempfile.gettempdir()).glob("bpgrade-*"))
    env = {**cli_env, "BPGRADE_TEST_SECRET": "hunter2"}
    start = time.monotonic()
    proc = subprocess.run([*bpgrade_cmd, "grade", str(batch), "-e", "mlp2", "--db", str(db), "--timeout", "2",
                           "--jobs", "2", "-q"], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.monotonic() - start
    records = {json.loads(line)["submission"]: json.loads(line) for line in proc.stdout.splitlines()}
    with sqlite3.connect(db) as con:
        printed = dict(con.execute("SELECT submission, output FROM submissions").fetchall())
    return {"proc": proc, "records": records, "printed": printed, "elapsed": elapsed, "batch": batch, "before": before,
            "after": digest(batch), "reference_before": reference_before, "scratch_before": scratch_before}


def test_the_batch_ends_in_bounded_time_with_one_result_each(graded):
    assert graded["proc"].returncode == 0, graded["proc"].stderr
    assert graded["proc"].stderr == ""
    assert set(graded["records"]) == {p.stem for p in graded["batch"].glob("*.py")}
    assert graded["elapsed"] < 120


def test_good_and_wrong_submissions_get_their_right_grades(graded):
    records = graded["records"]
    for path in [*GOOD, REFERENCE]:
        assert records[path.stem]["status"] == "ok"
        assert records[path.stem]["score"] == 5.0, records[path.stem]
    for name, _, _, fails, _ in WRONG:
        failed = {t["name"] for t in records[name]["targets"] if not t["passed"]}
        assert failed == fails and records[name]["score"] == len(ALL - fails)


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_each_hostile_submission_is_contained(graded, path):
    record = graded["records"][path.stem]
    status, no_credit = expectation(path)
    if status != "any":
        assert record["status"] == status, record["message"]
    if no_credit:
        assert record["score"] == 0.0
    assert len(record["targets"]) == 5
    assert "output" not in record
    assert len(graded["printed"][path.stem]) <= 4100


def test_timeouts_and_memory_are_named(graded):
    records = graded["records"]
    assert "time limit of 2 s" in records["endless_loop"]["message"]
    assert "MemoryError" in records["memory_hog"]["message"] and "1 GiB" in records["memory_hog"]["message"]


def test_no_secret_reaches_the_results(graded):
    assert "hunter2" not in graded["proc"].stdout
    w1 = graded["records"]["dumps_environment"]["targets"][0]
    assert "ENV" in w1["message"] and "BPGRADE_TEST_SECRET" not in w1["message"]


def test_nothing_is_left_running(graded):
    output = graded["printed"]["forks_and_leaves"]
    left = [int(n) for n in re.findall(r"left (\d+)", output)]
    if os.geteuid() == 0:  # one process per worker uid: no fork at all
        assert left == [] and output.count("refused") == 3
    else:
        assert len(left) == 3
    for pid in left:
        assert_gone(pid)
    assert uid_processes() == []


def test_nothing_is_written_outside_scratch(graded):
    assert graded["after"] == graded["before"]
    assert REFERENCE.read_bytes() == graded["reference_before"]
    assert not Path("/tmp/bpgrade-pwned").exists()
    assert set(Path(tempfile.gettempdir()).glob("bpgrade-*")) <= graded["scratch_before"]


@pytest.mark.skipif(not LANDLOCK, reason="without Landlock, files the grader's user can read stay readable")
def test_with_landlock_nearby_files_and_autodiff_are_out_of_reach(graded):
    assert graded["records"]["reads_reference"]["score"] == 0.0
    assert graded["printed"]["searches_for_answers"].startswith("found 0")


def test_forged_frames_and_printed_results_earn_nothing(graded):
    record = graded["records"]["fake_results"]
    assert record["score"] == 0.0
    assert [json.loads(line)["submission"] for line in graded["proc"].stdout.splitlines()].count("fake_results") == 1
