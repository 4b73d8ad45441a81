"""A batch of hostile submissions graded together with good and wrong ones, by
the grader as the user who runs the tests (root in CI) and as an unprivileged
user (:mod:`unprivileged`).

Each hostile submission is bounded (a capped memory hog, a few forks), so that
a broken sandbox fails this test instead of taking the machine down. A file
declares in its docstring what must become of it (``EXPECT: status[, no
credit]``); every other submission must get exactly its right grade, and
nothing a hostile one does may reach the grader's secrets, files, terminal,
gradebook, exports or the network.
"""

import hashlib
import importlib.util
import json
import os
import re
import select
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from stat import S_IMODE

import pytest

import unprivileged
from bpgrade import _confine, exports, store
from bpgrade.packs import SHIPPED_DIR
from bpgrade.gradebook import Gradebook
from bpgrade.safetext import clean_name

from conftest import REFERENCE, SUBMISSIONS
from test_grading_mlp2 import ALL, MISTAKES, write_mistake

HOSTILE = sorted((SUBMISSIONS / "hostile").glob("*.py"))
GOOD = sorted((SUBMISSIONS / "mlp2").glob("good_*.py"))
WRONG = [MISTAKES[0], MISTAKES[4], MISTAKES[8]]
LANDLOCK = _confine.landlock_abi() > 0
TORCH = importlib.util.find_spec("torch") is not None
MODES = ["invoking user", "unprivileged user"]

TOKEN = "tok-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
PEER_MARKER = "peer-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
ENV_SECRET = "hunter2-" + hashlib.sha256(os.urandom(16)).hexdigest()[:12]
FORMULA = '=HYPERLINK("http:evil";"x")'
ESCAPES = "\x1b]0;owned\x07\x1b[2J"
#: Submissions that must get full marks, besides the good ones and the reference.
RIGHT = ["peer", "bom", "latin1", "inner_link", "huge_notebook", "notebook_with_outputs", FORMULA, ESCAPES]
#: Links out of the batch: refused, with an error that says so.
LINKS_OUT = ["link_to_token", "link_to_reference", "linked_folder"]


def expectation(path: Path) -> tuple[str, bool]:
    """(status or "any", whether it must earn no credit) from the docstring's EXPECT."""
    match = re.search(r"EXPECT: (\w+)(, no credit)?", path.read_text())
    return (match.group(1), bool(match.group(2))) if match else ("ok", False)


def digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def processes_of(uids: range) -> list[str]:
    """Processes still running (not zombies) under ``uids``."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/status"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
        state = re.search(r"^State:\s+(\w)", text, re.M).group(1)
        if uid in uids and state not in "ZX":
            alive.append(stat.parent.name)
    return alive


def uid_processes() -> list[str]:
    """Processes still running under the workers' own uids (a root grader's)."""
    return processes_of(range(64000, 64100))


def notebook(*cells: str, outputs: str = "") -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "source": cell,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": outputs}] if outputs else []}
        for cell in cells]})


def write_batch(batch: Path, private: Path, token: Path, db: Path, ports: tuple[int, int], store: Path) -> None:
    """The batch: good, wrong and hostile submissions, and links in and out of it."""
    reference = REFERENCE.read_text()
    for path in [*HOSTILE, *GOOD, REFERENCE]:
        shutil.copy(path, batch / path.name)
    for name, old, new, *_ in WRONG:
        write_mistake(batch, name, old, new)
    targets = [str(p) for p in sorted(batch.glob("*.py"))] + [str(db), str(REFERENCE), str(token)]
    (batch / "writes_other_files.py").write_text(
        f'"""Appends to other submissions, the gradebook, the reference and a secret. EXPECT: ok"""\nimport os\n'
        f"for path in {targets!r}:\n"
        "    for how in ('append', 'remove'):\n"
        "        try:\n"
        "            open(path, 'a').write('# pwned') if how == 'append' else os.remove(path)\n"
        "        except OSError:\n"
        "            pass\n")
    (batch / "reads_reference.py").write_text(
        f'"""Runs the reference solution from where it lies. EXPECT: any, no credit"""\n'
        f"try:\n    exec(open({str(REFERENCE)!r}).read())\nexcept OSError:\n    pass\n")
    (batch / "peer.py").write_text(f"# {PEER_MARKER}\n" + reference)
    (batch / "reads_truth_store.py").write_text(
        '"""Reads the truth store, which holds the answers: its folder, and the entry of mlp2 by name. '
        'EXPECT: ok"""\nimport os\n'
        f"store, entry = {str(store)!r}, {store_entry()!r}\n"
        "found = []\ntry:\n    names = os.listdir(store)\nexcept OSError as e:\n"
        "    names = [entry]\n    found.append(type(e).__name__)\nread = 0\nfor name in set(names) | {entry}:\n"
        "    try:\n        with open(os.path.join(store, name), 'rb') as f:\n"
        "            found.append(f.read(64).decode('latin-1'))\n            read += 1\n"
        "    except OSError as e:\n        found.append(type(e).__name__)\nprint('read', read, found)\n" + reference)
    if TORCH:
        # Tensors by hand load torch in the fork server; torch's autograd is refused, in both modes.
        from test_torch import WORKED

        (batch / "torch_worked.py").write_text(WORKED)
        (batch / "torch_backward.py").write_text(WORKED.replace(
            "    diff.g = 2. * diff / diff.numel()",
            "    w1.requires_grad = True\n    loss.backward()\n    diff.g = 2. * diff / diff.numel()"))
    (batch / "steals_secrets.py").write_text(
        '"""Reads the grader\'s secrets: a file of its user, its environment, a peer\'s source. '
        'EXPECT: ok, no credit"""\nimport os\n\n'
        "try:\n    pids = [p for p in os.listdir('/proc') if p.isdigit()][:300]\nexcept OSError:\n    pids = []\n"
        f"paths = [{str(token)!r}, {str(batch / 'peer.py')!r}, f'/proc/{{os.getppid()}}/environ',\n"
        "         f'/proc/{os.getppid()}/cmdline'] + [f'/proc/{p}/environ' for p in pids]\n"
        "found = []\nfor path in paths:\n    try:\n        with open(path, 'rb') as f:\n"
        "            found.append(f.read(1 << 16))\n    except OSError:\n        pass\n"
        "text = b' '.join(found).decode('latin-1')\nprint('found', len(found), text[:3000])\n\n\n"
        "def grad_w1(x, y, params):\n    raise ValueError(text[:450])\n")
    (batch / "sends_datagrams.py").write_text(
        '"""Sends a UDP datagram and opens a TCP connection to the grader\'s machine. EXPECT: ok"""\nimport socket\n\n'
        "try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'leak', "
        f"('127.0.0.1', {ports[0]}))\n    print('sent')\nexcept OSError as e:\n    print('udp refused', e)\n"
        f"try:\n    socket.socket().connect(('127.0.0.1', {ports[1]}))\n"
        "    print('connected')\nexcept OSError as e:\n    print('tcp refused', e)\n")
    (batch / "replaces_its_output.py").write_text(
        '"""Replaces where it prints, and where a source would lie, with a FIFO and links to a secret. '
        'EXPECT: ok"""\nimport os\n\n'
        "def replace(name, make):\n    if os.path.lexists(name):\n        os.unlink(name)\n    make(name)\n\n\n"
        f"for step in (lambda: replace('output.txt', os.mkfifo),\n"
        f"             lambda: replace('output.txt', lambda name: os.symlink({str(token)!r}, name)),\n"
        f"             lambda: replace('submission.py', lambda name: os.symlink({str(token)!r}, name)),\n"
        "             lambda: replace('server.log', os.mkfifo)):\n"
        "    try:\n        step()\n        print('done')\n    except OSError as e:\n"
        "        print('refused', type(e).__name__)\n")
    (batch / "nested_plus.py").write_text(
        '"""20,000 chained additions, and the name of an autodiff library in a comment. EXPECT: error, no credit"""'
        "\n# jax\nx = " + "+".join(["1"] * 20_000) + "\n")
    (batch / "nested_minus.py").write_text(
        '"""20,000 unary minuses. EXPECT: error, no credit"""\nx = ' + "-" * 20_000 + "1\n")
    (batch / "too_large.py").write_text(
        '"""The reference with 2 MiB of comment. EXPECT: error, no credit"""\n' + reference
        + "\n# " + "x" * (2 << 20) + "\n")
    (batch / "bom.py").write_bytes(b"\xef\xbb\xbf" + reference.encode())
    (batch / "latin1.py").write_bytes(("# -*- coding: latin-1 -*-\n# café\n" + reference).encode("latin-1"))
    (batch / "huge_notebook.ipynb").write_text(notebook("import matplotlib\n" * 10_000, reference))
    (batch / "notebook_with_outputs.ipynb").write_text(notebook(reference, outputs="y" * (3 << 20)))
    (batch / f"{FORMULA}.py").write_text(reference)
    (batch / f"{ESCAPES}.py").write_text(reference)
    (private / "mlp2.py").write_text(reference)
    (batch / "link_to_token.py").symlink_to(token)
    (batch / "link_to_reference.py").symlink_to(REFERENCE)
    (batch / "linked_folder").symlink_to(private)
    (batch / "inner_link.py").symlink_to("good_einsum.py")


@pytest.fixture(scope="module", params=MODES)
def graded(request, bpgrade_cmd, cli_env):
    as_user = request.param == "unprivileged user"
    if as_user and unprivileged.unavailable():
        pytest.skip(unprivileged.unavailable())
    base = Path(tempfile.mkdtemp(prefix="hostile-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o711)
    home, private, stage = base / "home", base / "private", base / "stage"
    for folder in (home, home / "tmp", home / "batch", private, stage):
        folder.mkdir()
    home.chmod(0o711)  # workers under their own uid enter the scratch folder below it
    batch, db, token = home / "batch", home / "grades.sqlite", home / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    udp, tcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
    for s in (udp, tcp):
        s.bind(("127.0.0.1", 0))
    tcp.listen()
    store = home / "truth" if as_user else Path(cli_env["BPGRADE_STORE_DIR"])
    write_batch(batch, private, token, db, (udp.getsockname()[1], tcp.getsockname()[1]), store)
    env = {**cli_env, "BPGRADE_TEST_SECRET": ENV_SECRET, "TMPDIR": str(home / "tmp")}
    argv = [*bpgrade_cmd, "grade", str(batch), "-e", "mlp2", "--db", str(db), "--timeout", "2", "--jobs", "2", "-q"]
    if as_user:
        unprivileged.home(home)
        home.chmod(0o700)
        env = {**unprivileged.environment(env, home), "TMPDIR": str(home / "tmp")}
        argv = unprivileged.command(argv, stage)
    before = digest(batch)
    reference_before = REFERENCE.read_bytes()
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=home)
    elapsed = time.monotonic() - start
    reached = select.select([udp, tcp], [], [], 0.5)[0]
    udp.close()
    tcp.close()
    records = {json.loads(line)["submission"]: json.loads(line) for line in proc.stdout.splitlines()}
    with sqlite3.connect(db) as con:
        printed = dict(con.execute("SELECT submission, output FROM submissions").fetchall())
    with Gradebook(db) as book:
        reports = book.reports()
    return {"mode": request.param, "proc": proc, "records": records, "printed": printed, "elapsed": elapsed,
            "batch": batch, "before": before, "after": digest(batch), "reference_before": reference_before,
            "token": token, "db": db, "tmp": home / "tmp", "reached": reached, "reports": reports,
            "workers": range(unprivileged.UID, unprivileged.UID + 1) if as_user else range(64000, 64100),
            "store": store}


def test_the_batch_ends_in_bounded_time_with_one_result_each(graded):
    assert graded["proc"].returncode == 0, graded["proc"].stderr
    assert graded["proc"].stderr == ""
    ids = {clean_name(p.name if p.is_dir() else p.stem) for p in graded["batch"].iterdir()}
    assert set(graded["records"]) == ids
    assert graded["elapsed"] < 120


def test_good_and_wrong_submissions_get_their_right_grades(graded):
    records = graded["records"]
    for name in [*(p.stem for p in GOOD), REFERENCE.stem, *(clean_name(n) for n in RIGHT)]:
        assert records[name]["status"] == "ok", records[name]["message"]
        assert records[name]["score"] == 5.0, records[name]
    for name, _, _, fails, _ in WRONG:
        failed = {t["name"] for t in records[name]["targets"] if not t["passed"]}
        assert failed == fails and records[name]["score"] == len(ALL - fails)


@pytest.mark.parametrize("name", [p.stem for p in HOSTILE] + ["writes_other_files", "reads_reference",
                                  "steals_secrets", "sends_datagrams", "replaces_its_output", "nested_plus",
                                  "nested_minus", "too_large"])
def test_each_hostile_submission_is_contained(graded, name):
    record = graded["records"][name]
    status, no_credit = expectation(graded["batch"] / f"{name}.py")
    if status != "any":
        assert record["status"] == status, record["message"]
    if no_credit:
        assert record["score"] == 0.0
    assert len(record["targets"]) == 5
    assert "output" not in record
    assert len(graded["printed"][name]) <= 4100


@pytest.mark.skipif(not TORCH, reason="torch is not installed")
def test_torch_tensors_by_hand_pass_and_torch_autograd_is_forbidden(graded):
    records = graded["records"]
    assert records["torch_worked"]["status"] == "ok" and records["torch_worked"]["score"] == 5.0, \
        records["torch_worked"]
    assert records["torch_backward"]["status"] == "forbidden" and records["torch_backward"]["score"] == 0.0
    assert "Tensor.requires_grad = True" in records["torch_backward"]["message"]


def test_each_record_says_how_its_worker_was_isolated(graded):
    isolation = graded["records"]["mlp2"]["isolation"]
    assert "seccomp (" in isolation or "no seccomp (" in isolation
    assert ("own uid per worker" in isolation) == (graded["mode"] == "invoking user" and os.geteuid() == 0)


def test_links_out_of_the_batch_are_not_followed(graded):
    for name in LINKS_OUT:
        record = graded["records"][name]
        assert record["status"] == "error" and record["score"] == 0.0
        assert "symbolic link that leads out of the submissions folder" in record["message"]
    assert TOKEN not in json.dumps(graded["records"])


def test_timeouts_and_memory_are_named(graded):
    records = graded["records"]
    w1 = records["endless_loop"]["targets"][0]
    assert w1["diagnosis"]["code"] == "timeout" and "grad_w1 ran past its share of the time limit" in w1["message"]
    assert "time limit of 2 s" in records["sleep_at_import"]["message"]
    assert "MemoryError" in records["memory_hog"]["message"] and "1 GiB" in records["memory_hog"]["message"]


def test_what_the_grader_cannot_read_is_an_error_of_that_submission(graded):
    records = graded["records"]
    assert "too deeply nested" in records["nested_plus"]["message"]
    assert "too deeply nested" in records["nested_minus"]["message"]
    assert "--max-size" in records["too_large"]["message"]
    for name in ("forges_a_deep_header", "forges_a_large_header", "fake_results"):
        assert records[name]["score"] == 0.0


def store_entry() -> str:
    """The name of mlp2's entry in the truth store (its public and hidden cases, the default device)."""
    return store._name(store.key(SHIPPED_DIR / "mlp2", None, None))


def test_a_worker_cannot_read_the_truth_store(graded):
    # The grader filled it before any worker ran: the entry that holds mlp2's answers is there.
    entry = graded["store"] / store_entry()
    assert entry.is_file() and entry.read_bytes().startswith(b"bpgrade truth store")
    assert S_IMODE(graded["store"].stat().st_mode) == 0o700 and S_IMODE(entry.stat().st_mode) == 0o600
    printed = graded["printed"]["reads_truth_store"]
    assert printed.startswith("read 0 ['PermissionError', 'PermissionError']"), printed
    assert graded["records"]["reads_truth_store"]["score"] == 5.0
    everything = graded["proc"].stdout + graded["proc"].stderr + json.dumps(graded["printed"])
    assert "bpgrade truth store" not in everything


def test_forged_frames_and_printed_results_earn_nothing(graded):
    assert graded["records"]["fake_results"]["score"] == 0.0
    assert [json.loads(line)["submission"] for line in graded["proc"].stdout.splitlines()].count("fake_results") == 1


def without_code(db: Path, scratch: Path) -> bytes:
    """The gradebook's bytes without its code table, which keeps each submission's own code (for
    similarity): a marker in a submission's own source is its own."""
    copy = scratch / "without-code.sqlite"
    shutil.copy(db, copy)
    con = sqlite3.connect(copy, isolation_level=None)
    con.execute("DELETE FROM code")
    con.execute("VACUUM")
    con.close()
    data = copy.read_bytes()
    copy.unlink()
    return data


def test_no_secret_reaches_the_results(graded):
    if graded["mode"] == "unprivileged user" and not LANDLOCK:
        pytest.skip("without Landlock, files the grader's user can read stay readable")
    everything = graded["proc"].stdout + graded["proc"].stderr + json.dumps(graded["printed"])
    stored = without_code(graded["db"], graded["tmp"])
    for secret in (TOKEN, ENV_SECRET, PEER_MARKER):
        assert secret not in everything and secret.encode() not in stored
    w1 = graded["records"]["dumps_environment"]["targets"][0]
    assert "ENV" in w1["message"] and "BPGRADE_TEST_SECRET" not in w1["message"]


def test_no_datagram_or_connection_leaves_a_worker(graded):
    assert graded["reached"] == []
    printed = graded["printed"]["sends_datagrams"]
    assert "udp refused" in printed and "tcp refused" in printed


def test_nothing_is_left_running(graded):
    for name in ("forks_and_leaves", "escapes_and_watches"):
        output = graded["printed"][name]
        assert "left" not in output and "refused" in output, output
    assert "inotify -1" in graded["printed"]["escapes_and_watches"]
    assert processes_of(graded["workers"]) == []


def test_nothing_is_written_anywhere(graded):
    assert graded["after"] == graded["before"]
    assert REFERENCE.read_bytes() == graded["reference_before"]
    assert graded["token"].read_text() == TOKEN
    assert b"# pwned" not in without_code(graded["db"], graded["tmp"])
    assert not Path("/tmp/bpgrade-pwned").exists()
    assert list(graded["tmp"].iterdir()) == []  # the scratch folders are gone, and held nothing
    assert graded["printed"]["writes_files"].startswith("written 0 PermissionError")
    assert graded["printed"]["replaces_its_output"].count("refused") == 4
    assert graded["printed"]["grows_a_deep_tree"].startswith("refused after 0")


def test_what_a_submission_controls_is_clean_in_every_export(graded):
    reports = graded["reports"]
    texts = [exports.export(reports, fmt) for fmt in exports.FORMATS] + [r.to_text() for r in reports]
    texts += [graded["proc"].stdout, json.dumps(graded["printed"])]
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text
        text.encode("utf-8")  # no lone surrogate
    unencodable = graded["records"]["raises_unencodable"]["targets"]
    assert "boom \ufffd" in unencodable[0]["message"] and "0;owned" in unencodable[0]["message"]
    rows = exports.to_csv(reports).splitlines()
    assert any(row.startswith("\"'=HYPERLINK(") for row in rows)
    assert not any(row.startswith(("=", "\"=")) for row in rows)


@pytest.mark.skipif(not LANDLOCK, reason="without Landlock, files the grader's user can read stay readable")
def test_with_landlock_nearby_files_and_autodiff_are_out_of_reach(graded):
    assert graded["records"]["reads_reference"]["score"] == 0.0
    assert graded["printed"]["searches_for_answers"].startswith("found 0")
    assert graded["printed"]["steals_secrets"].startswith("found 0")
