"""`bpgrade grade` and `bpgrade merge` through the real command line: batches, gradebook, resume, shards."""

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

import bpgrade
from bpgrade.errors import SubmissionError
from bpgrade.submissions import collect, shard

from conftest import REFERENCE
from test_grading_mlp2 import MISTAKES, write_mistake
from test_hostile import uid_processes


@pytest.fixture(scope="module")
def run(bpgrade_cmd, cli_env):
    def run(*args, **kw):
        return subprocess.run([*bpgrade_cmd, *map(str, args)], capture_output=True, text=True, env=cli_env,
                              timeout=300, **kw)
    return run


@pytest.fixture
def batch(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(4):
        (folder / f"good{i}.py").write_text(REFERENCE.read_text())
    write_mistake(folder, *MISTAKES[4][:3])
    return folder


def test_collect_follows_the_naming_rules(tmp_path):
    (tmp_path / "alice.py").write_text("")
    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "mlp2.py").write_text("")
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "submission.py").write_text("")
    (tmp_path / "dave" / "helpers.py").write_text("")
    (tmp_path / "erin").mkdir()
    (tmp_path / "erin" / "a.py").write_text("")
    (tmp_path / "erin" / "b.py").write_text("")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    os.mkfifo(tmp_path / "frank.py")
    subs = {s.id: s for s in collect([tmp_path])}
    found = {name: s.path.relative_to(tmp_path).as_posix() for name, s in subs.items()}
    assert found == {"alice": "alice.py", "bob": "bob.ipynb", "carol": "carol/mlp2.py",
                     "dave": "dave/submission.py", "erin": "erin", "frank": "frank.py"}
    assert subs["frank"].problem == "frank.py is not a regular file: bpgrade reads only regular files"
    assert [p.name for p in subs["dave"].siblings] == ["helpers.py"]
    # No submission is left out in silence: two files and nothing to choose between them.
    assert subs["erin"].status == "no_submission" and "several files could be it (a.py, b.py)" in subs["erin"].problem
    # The file that defines the exercise's functions is chosen, the other one importable by it.
    (tmp_path / "erin" / "b.py").write_text("def grad_w1(x, y, params):\n    pass\n")
    erin = {s.id: s for s in collect([tmp_path], names=("grad_w1", "grad_b1"))}["erin"]
    assert erin.path.name == "b.py" and [p.name for p in erin.siblings] == ["a.py"] and erin.problem is None
    with pytest.raises(SubmissionError, match="two submissions have the id 'alice'"):
        collect([tmp_path, tmp_path / "alice.py"])
    with pytest.raises(SubmissionError, match="no such file or folder"):
        collect([tmp_path / "nope"])


def test_shards_are_disjoint_stable_and_cover_everything(tmp_path):
    for i in range(40):
        (tmp_path / f"s{i:02d}.py").write_text("")
    subs = collect([tmp_path])
    parts = [shard(subs, k, 3) for k in (1, 2, 3)]
    assert sorted(s.id for p in parts for s in p) == sorted(s.id for s in subs)
    assert all(parts)
    (tmp_path / "new.py").write_text("")
    again = shard(collect([tmp_path]), 1, 3)
    assert {s.id for s in parts[0]} <= {s.id for s in again}


def test_grade_writes_the_gradebook_and_exports_jsonl_and_csv(run, batch, tmp_path):
    db = tmp_path / "g.sqlite"
    proc = run("grade", batch, "-e", "mlp2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["submission"] for r in records] == ["good0", "good1", "good2", "good3", "relu_mask_left_out"]
    assert [r["score"] for r in records] == [5.0, 5.0, 5.0, 5.0, 2.0]
    assert "grading 5 submissions of mlp2" in proc.stderr and "graded 5 and skipped 0" in proc.stderr
    # The start-up line says how workers are isolated here, and so does each record.
    workers = next(line for line in proc.stderr.splitlines() if line.startswith("bpgrade: workers: "))
    assert workers.removeprefix("bpgrade: workers: ") == records[0]["isolation"]
    assert "seccomp" in workers and "Landlock" in workers and ("own uid" in workers) == (os.geteuid() == 0)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM submissions").fetchone() == (5,)
        assert con.execute("SELECT COUNT(*) FROM targets").fetchone() == (25,)
    out = tmp_path / "grades.csv"
    proc = run("grade", batch, "-e", "mlp2", "--db", db, "--format", "csv", "-o", out, "-q")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    scores = {k: v for k, v in rows[4].items() if not k.endswith("_code") and k != "message"}
    assert scores == {"submission": "relu_mask_left_out", "exercise": "mlp2", "status": "ok", "w1": "0.0",
                      "b1": "0.0", "w2": "1.0", "b2": "1.0", "x": "0.0", "score": "2.0", "max_score": "5.0"}


def test_rerun_resumes_and_regrades_only_what_changed(run, batch, tmp_path):
    db = tmp_path / "g.sqlite"
    assert run("grade", batch, "-e", "mlp2", "--db", db, "-q").returncode == 0
    again = run("grade", batch, "-e", "mlp2", "--db", db)
    assert "graded 0 and skipped 5" in again.stderr
    assert len(again.stdout.splitlines()) == 5
    write_mistake(batch, *MISTAKES[3][:3]).rename(batch / "good0.py")  # sign flipped on w2
    changed = run("grade", batch, "-e", "mlp2", "--db", db)
    assert "graded 1 and skipped 4" in changed.stderr
    assert json.loads(changed.stdout.splitlines()[0])["score"] == 4.0
    assert "graded 5 and skipped 0" in run("grade", batch, "-e", "mlp2", "--db", db, "--regrade").stderr
    other_seed = run("grade", batch, "-e", "mlp2", "--db", db, "--seed", "77")
    assert "graded 5 and skipped 0" in other_seed.stderr
    assert {json.loads(line)["seed"] for line in other_seed.stdout.splitlines()} == {77}


def test_killed_grader_resumes_with_exactly_one_result_each(bpgrade_cmd, cli_env, tmp_path, run):
    folder = tmp_path / "slow"
    folder.mkdir()
    for i in range(16):
        (folder / f"s{i:02d}.py").write_text("import time\ntime.sleep(0.4)\n" + REFERENCE.read_text())
    db = tmp_path / "g.sqlite"
    grader = subprocess.Popen([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(db), "--jobs", "2",
                               "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env)
    deadline = time.monotonic() + 120
    done = 0
    while done < 4 and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.1)
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    done = con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
                except sqlite3.OperationalError:
                    pass
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait()
    assert 4 <= done < 16
    time.sleep(0.5)
    assert uid_processes() == []
    proc = run("grade", folder, "-e", "mlp2", "--db", db, "--jobs", "2")
    assert proc.returncode == 0
    skipped = int(proc.stderr.split("skipped ")[-1].split()[0])
    assert skipped >= done
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["submission"] for r in records) == [f"s{i:02d}" for i in range(16)]
    assert all(r["score"] == 5.0 for r in records)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*), COUNT(DISTINCT submission) FROM submissions").fetchone() == (16, 16)
        assert con.execute("SELECT COUNT(*) FROM targets").fetchone() == (80,)


def test_shards_then_merge(run, batch, tmp_path):
    dbs = [tmp_path / f"shard{k}.sqlite" for k in (1, 2)]
    ids = []
    for k, db in enumerate(dbs, 1):
        proc = run("grade", batch, "-e", "mlp2", "--db", db, "--shard", f"{k}/2", "-q")
        assert proc.returncode == 0
        ids.append({json.loads(line)["submission"] for line in proc.stdout.splitlines()})
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 5
    merged = run("merge", *dbs, "--db", tmp_path / "all.sqlite")
    assert merged.returncode == 0
    assert sorted(json.loads(line)["submission"] for line in merged.stdout.splitlines()) == sorted(ids[0] | ids[1])
    again = run("merge", *dbs, "--db", tmp_path / "all.sqlite", "--format", "csv")
    assert "merged 0 results" in again.stderr and len(again.stdout.splitlines()) == 6


@pytest.mark.parametrize("args,message", [
    (["--shard", "3/2"], "1 <= K <= N"),
    (["--shard", "half"], "K/N"),
    (["--jobs", "0"], "positive whole number"),
    (["-e", "nope"], "shipped pack"),
], ids=["shard-range", "shard-form", "jobs", "pack"])
def test_grade_usage_errors_exit_2(run, batch, tmp_path, args, message):
    base = ["grade", batch, "--db", tmp_path / "g.sqlite"]
    proc = run(*base, *(args if "-e" in args else ["-e", "mlp2", *args]))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_merge_of_something_that_is_no_gradebook_exits_2(run, tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    proc = run("merge", bad, "--db", tmp_path / "all.sqlite")
    assert proc.returncode == 2 and "not a bpgrade gradebook" in proc.stderr
    missing = run("merge", tmp_path / "nosuch.sqlite", "--db", tmp_path / "new.sqlite")
    assert missing.returncode == 2 and "nosuch.sqlite: no such gradebook" in missing.stderr
    assert not (tmp_path / "new.sqlite").exists()


def with_helper_module(reference: str) -> str:
    """The reference solution with its ReLU taken from a module of the student's own (utils.py)."""
    return reference.replace("import numpy as np\n", "import numpy as np\nfrom utils import relu_mask\n", 1) \
        .replace("(u1 > 0)", "relu_mask(u1)")


def test_every_folder_of_a_batch_is_accounted_for(run, tmp_path):
    batch = tmp_path / "batch"
    for folder in ("alice", "bob", "carol", "dave", ".ipynb_checkpoints"):
        (batch / folder).mkdir(parents=True)
    assert "relu_mask(u1)" in with_helper_module(REFERENCE.read_text())
    (batch / "alice" / "mlp2.py").write_text(with_helper_module(REFERENCE.read_text()))
    (batch / "alice" / "utils.py").write_text("def relu_mask(u):\n    return u > 0\n")
    (batch / "bob" / "notes.txt").write_text("I ran out of time")
    (batch / "carol" / "a.py").write_text("x = 1\n")
    (batch / "carol" / "b.py").write_text("y = 2\n")
    (batch / "dave" / "mlp2.py").write_text(with_helper_module(REFERENCE.read_text()))
    (batch / "dave" / "utils.py").write_text("def relu_mask(u):\n    return u / 0.0 > 'x'\n")
    # A file of the batch's own folder imports no other student's file.
    (batch / "erin.py").write_text("from utils import relu_mask\n" + REFERENCE.read_text())
    (batch / "utils.py").write_text("def relu_mask(u):\n    return u > 0\n")
    proc = run("grade", batch, "-e", "mlp2", "--db", tmp_path / "g.sqlite", "-q", "--feedback-dir", tmp_path / "fb")
    records = {r["submission"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert sorted(records) == ["alice", "bob", "carol", "dave", "erin", "utils"], proc.stderr
    # Each one's feedback, as check shows it, in Markdown and HTML.
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == sorted(
        f"{name}.{ext}" for name in records for ext in ("md", "html"))
    assert "bpgrade mlp2: alice: 5/5" in (tmp_path / "fb" / "alice.md").read_text()
    assert "nothing to grade in bob/" in (tmp_path / "fb" / "bob.html").read_text()
    assert records["alice"]["score"] == 5.0  # mlp2.py, which imports utils.py beside it
    assert records["bob"]["status"] == "no_submission" and records["bob"]["score"] == 0.0
    assert records["bob"]["message"] == "nothing to grade in bob/: no .py or .ipynb file to grade; it holds notes.txt"
    assert records["carol"]["status"] == "no_submission" and "(a.py, b.py)" in records["carol"]["message"]
    # An error in the helper module names its file.
    assert "dave/utils.py, line 2" in records["dave"]["targets"][0]["message"]
    assert records["erin"]["status"] == "error" and "No module named 'utils'" in records["erin"]["message"]
    # check takes such a folder too, and chooses its file the same way.
    assert bpgrade.check("mlp2", batch / "alice").score == 5.0
    # A folder that holds no submission at all is a usage error, and no gradebook is made.
    (tmp_path / "empty").mkdir()
    proc = run("grade", tmp_path / "empty", "-e", "mlp2", "--db", tmp_path / "none.sqlite")
    assert proc.returncode == 2 and "holds no submission" in proc.stderr
    assert not (tmp_path / "none.sqlite").exists()
