"""A batch of package submissions (assignment folders and .zip archives), hostile ones among them,
graded with a course pack (cs231n-twolayer: a harness, a pack module) by the grader as the user
who runs the tests and as an unprivileged user (:mod:`unprivileged`)."""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

import unprivileged
from bpgrade import _confine

COURSE = Path(__file__).parent / "submissions" / "courses" / "cs231n_assignment1"
TOKEN = "tok-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
MODES = ["invoking user", "unprivileged user"]


def zipped(folder: Path, archive: Path, extra=()) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*.py")):
            zf.write(path, "assignment1/" + path.relative_to(folder).as_posix())
        for info, data in extra:
            zf.writestr(info, data)


def write_batch(batch: Path, token: Path) -> None:
    shutil.copytree(COURSE, batch / "alice")
    zipped(COURSE, batch / "bob.zip")
    # A link inside the package, to the grader's secret.
    shutil.copytree(COURSE, batch / "carol")
    (batch / "carol" / "cs231n" / "secret.py").symlink_to(token)
    # Code that reaches for the secret, the grader's harness and other users' files while it is graded.
    shutil.copytree(COURSE, batch / "dave")
    fc_net = batch / "dave" / "cs231n" / "classifiers" / "fc_net.py"
    fc_net.write_text(fc_net.read_text() + f'''

import gc, sys
for _path in ({str(token)!r}, "/etc/shadow", {str(batch / "alice" / "cs231n" / "layers.py")!r}):
    try:
        print(open(_path).read())
    except Exception as e:
        print("refused", type(e).__name__)
# The harness runs beside the submission: tampering with it could change this submission's grade only.
for _f in gc.get_objects():
    if getattr(_f, "__name__", "") == "loss" and getattr(_f, "__module__", "") == "bpgrade_harness":
        _f.__code__ = (lambda student, **case: {{"W1": 0, "b1": 0, "W2": 0, "b2": 0}}).__code__
''')
    # An archive whose entries are a link and a name that climbs out.
    link = zipfile.ZipInfo("assignment1/cs231n/evil.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zipped(COURSE, batch / "erin.zip", [(link, str(token))])
    zipped(COURSE, batch / "frank.zip", [("assignment1/cs231n/../../../escape.py", "x = 1\n")])


@pytest.fixture(scope="module", params=MODES)
def graded(request, bpgrade_cmd, cli_env):
    as_user = request.param == "unprivileged user"
    if as_user and unprivileged.unavailable():
        pytest.skip(unprivileged.unavailable())
    base = Path(tempfile.mkdtemp(prefix="hostile-courses-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o711)
    home, stage = base / "home", base / "stage"
    for folder in (home, home / "tmp", home / "batch", stage):
        folder.mkdir()
    home.chmod(0o711)
    batch, db, token = home / "batch", home / "grades.sqlite", home / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    write_batch(batch, token)
    env = {**cli_env, "TMPDIR": str(home / "tmp")}
    argv = [*bpgrade_cmd, "grade", str(batch), "-e", "cs231n-twolayer", "--db", str(db), "--timeout", "10",
            "--jobs", "2", "-q"]
    if as_user:
        unprivileged.home(home)
        home.chmod(0o700)
        env = {**unprivileged.environment(env, home), "TMPDIR": str(home / "tmp")}
        argv = unprivileged.command(argv, stage)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=home)
    records = {json.loads(line)["submission"]: json.loads(line) for line in proc.stdout.splitlines()}
    return {"proc": proc, "records": records, "db": db, "as_user": as_user}


def test_the_course_batch_is_graded_and_contained(graded):
    assert graded["proc"].returncode in (0, 1), graded["proc"].stderr
    records = graded["records"]
    assert sorted(records) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    for name in ("alice", "bob"):
        assert records[name]["status"] == "ok" and records[name]["score"] == 4, records[name]
    assert records["carol"]["status"] == "error" and "symbolic link" in records["carol"]["message"]
    assert records["erin"]["status"] == "error" and "symbolic link" in records["erin"]["message"]
    assert records["frank"]["status"] == "error" and "leads out of its folder" in records["frank"]["message"]
    # The harness is out of its reach (frozen before the fork: the collector does not list it), and so
    # are the grader's secret and the other submissions: its own right code earns its points.
    assert records["dave"]["status"] == "ok" and records["dave"]["score"] == 4, records["dave"]
    with sqlite3.connect(graded["db"]) as con:
        printed = dict(con.execute("SELECT submission, output FROM submissions").fetchall())
    if graded["as_user"] and not _confine.landlock_abi():
        pytest.skip("without Landlock, a worker under the grader's own uid may read that user's files")
    assert printed["dave"].count("refused") == 3, printed["dave"]
    everything = graded["proc"].stdout + graded["proc"].stderr + graded["db"].read_bytes().decode("utf-8", "replace")
    assert TOKEN not in everything and "root:" not in everything and "affine_forward(x, w, b)" not in printed["dave"]
