"""The truth store: what it keeps, what it trusts, and that grading from it gives the same reports."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bpgrade import _calls, grader, store, truth
from bpgrade.packs import SHIPPED_DIR, load_pack

from conftest import REFERENCE, SUBMISSIONS
from test_grading_mlp2 import MISTAKES, write_mistake

MLP2 = SHIPPED_DIR / "mlp2"


@pytest.fixture
def own_store(tmp_path, monkeypatch):
    folder = tmp_path / "truth"
    monkeypatch.setenv("BPGRADE_STORE_DIR", str(folder))
    monkeypatch.setattr(grader, "_PREPARED", type(grader._PREPARED)())
    return folder


@pytest.fixture(scope="module")
def computed(mlp2):
    return truth.case_set(mlp2, 3)


def leaves(tree):
    return _calls.leaves(tree)


def same(a, b):
    return [p for p, _ in leaves(a)] == [p for p, _ in leaves(b)] and all(
        x.dtype == y.dtype and np.array_equal(x, y) for (_, x), (_, y) in zip(leaves(a), leaves(b)))


def test_an_entry_gives_back_what_was_computed(own_store, computed):
    wanted = store.key(MLP2, 3, None)
    assert store.load(wanted) is None
    assert store.save(wanted, computed)
    loaded = store.load(wanted)
    assert loaded.facts == computed.facts and loaded.platform == computed.platform
    assert [(c.index, c.seed, dict(c.dims), c.hidden) for c in loaded.cases] == \
        [(c.index, c.seed, dict(c.dims), c.hidden) for c in computed.cases]
    assert all(same(dict(a.tensors), dict(b.tensors)) for a, b in zip(loaded.cases, computed.cases))
    assert all(same(list(loaded.gradients[t]), list(computed.gradients[t])) for t in computed.gradients)
    assert len(loaded.mistakes[0]) == len(load_pack("mlp2").mistakes) > 0
    assert same([list(m) for m in loaded.mistakes], [list(m) for m in computed.mistakes])
    folder_mode, file_mode = own_store.stat().st_mode & 0o777, (own_store / store._name(wanted)).stat().st_mode & 0o777
    assert (folder_mode, file_mode) == (0o700, 0o600)


def test_the_store_keeps_the_entries_used_lately_and_no_more(own_store, computed, monkeypatch):
    """Reading an entry marks it used; writing one removes entries unused for KEEP_DAYS days,
    those beyond the KEEP_ENTRIES most recently used, and stale cut-short writes, and nothing else."""
    day = 86400
    now = time.time()
    wanted = store.key(MLP2, 3, None)
    assert store.save(wanted, computed)
    entry = own_store / store._name(wanted)
    os.utime(entry, (now - 40 * day, now - 40 * day))
    assert store.load(wanted) is not None
    assert entry.stat().st_mtime > now - 60  # used now

    def fake(name: str, age_days: float) -> Path:
        path = own_store / name
        path.write_bytes(b"x")
        os.utime(path, (now - age_days * day, now - age_days * day))
        return path

    old, recent = fake("a" * 64 + ".truth", 31), fake("b" * 64 + ".truth", 28.5)
    older_recent = fake("c" * 64 + ".truth", 29)
    stale, fresh_write = fake(".writing-stale", 1), fake(".writing-now", 0)
    not_ours = fake("notes.txt", 400)
    link = own_store / ("d" * 64 + ".truth")
    link.symlink_to(not_ours)
    os.utime(link, (now - 400 * day, now - 400 * day), follow_symlinks=False)
    monkeypatch.setattr(store, "KEEP_ENTRIES", 3)
    assert store.save(store.key(MLP2, 4, None), computed)
    left = {p.name for p in own_store.iterdir()}
    # Kept: the two entries just written or read, the most recent other one; the rest of the folder.
    assert left == {entry.name, store._name(store.key(MLP2, 4, None)), recent.name, fresh_write.name,
                    not_ours.name, link.name}
    assert not old.exists() and not older_recent.exists() and not stale.exists()


def test_a_corrupt_or_foreign_entry_is_never_trusted(own_store, computed):
    wanted, other = store.key(MLP2, 3, None), store.key(MLP2, 4, None)
    store.save(wanted, computed)
    path = own_store / store._name(wanted)
    good = path.read_bytes()
    flipped = bytearray(good)
    flipped[-9] ^= 1  # a bit of the last array
    path.write_bytes(bytes(flipped))
    assert store.load(wanted) is None
    path.write_bytes(good[:-100])  # cut short
    assert store.load(wanted) is None
    # Another key's entry under this key's name: its checksum holds, its key does not.
    (own_store / store._name(other)).write_bytes(good)
    assert store.load(other) is None
    path.write_bytes(good)
    assert store.load(wanted) is not None
    path.chmod(0o620)  # writable by its group
    assert store.load(wanted) is None
    path.chmod(0o600)
    path.rename(own_store / "elsewhere")
    path.symlink_to(own_store / "elsewhere")
    assert store.load(wanted) is None
    if os.geteuid() == 0:
        path.unlink()
        (own_store / "elsewhere").rename(path)
        os.chown(path, 65534, 65534)  # another user's
        assert store.load(wanted) is None


def test_a_corrupt_entry_is_computed_again_and_replaced(own_store, monkeypatch):
    grader.Prepared.make("mlp2", 5, None)
    [path] = own_store.glob("*.truth")
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    computed = []
    original = truth.case_set
    monkeypatch.setattr(truth, "case_set", lambda *a: computed.append(a) or original(*a))
    grader._PREPARED.clear()
    assert grader.Prepared.make("mlp2", 5, None).cases[0].seed == 5 and len(computed) == 1
    grader._PREPARED.clear()
    grader.Prepared.make("mlp2", 5, None)
    assert len(computed) == 1  # the replaced entry is read


def test_the_key_holds_every_file_of_the_pack_and_what_else_it_depends_on(tmp_path):
    pack = shutil.copytree(MLP2, tmp_path / "mlp2")
    first = store.key(pack, None, None)
    assert store.key(pack, None, None) == first
    assert {store._name(store.key(pack, 1, None)), store._name(store.key(pack, None, "cpu"))}.isdisjoint(
        {store._name(first)})
    for name in ("README.md", "exercise.yaml", "template.py"):
        with open(pack / name, "a") as f:
            f.write("\n")
        changed = store.key(pack, None, None)
        assert changed["pack"] != first["pack"], name
        first = changed
    assert set(first["versions"]) == {"numpy", "jax", "jaxlib"} and first["precision"] == store.PRECISION


def test_the_folder_is_the_users_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("BPGRADE_STORE_DIR", "")
    assert store.folder() is None
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o755)
    monkeypatch.setenv("BPGRADE_STORE_DIR", str(open_folder))
    assert store.folder() == open_folder and open_folder.stat().st_mode & 0o777 == 0o700
    (tmp_path / "link").symlink_to(open_folder)
    monkeypatch.setenv("BPGRADE_STORE_DIR", str(tmp_path / "link"))
    assert store.folder() is None
    if os.geteuid() == 0:
        os.chown(open_folder, 65534, 65534)
        monkeypatch.setenv("BPGRADE_STORE_DIR", str(open_folder))
        assert store.folder() is None


def test_a_check_from_the_store_imports_no_jax(cli_env):
    program = ("import sys, bpgrade\nreport = bpgrade.check('mlp2', sys.argv[1])\n"
               "print(report.score, report.max_score, 'jax' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", program, str(REFERENCE)], capture_output=True, text=True,
                           env=cli_env, timeout=300) for _ in range(2)]
    assert runs[1].stdout.split() == ["5.0", "5.0", "False"], runs[1].stderr


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    shutil.copy(REFERENCE, folder / "reference.py")
    for path in sorted((SUBMISSIONS / "mlp2").glob("*.py"))[:2]:
        shutil.copy(path, folder / path.name)
    for name, old, new, *_ in MISTAKES:
        write_mistake(folder, name, old, new)
    (folder / "broken.py").write_text("def grad_w1(x, y, params):\n    return 1 / 0\n")
    return folder


def test_reports_from_the_store_are_those_computed_in_the_run(batch, bpgrade_cmd, cli_env, tmp_path):
    """The batch graded with the truth computed in the run (no store), then filling a store, then
    from it without JAX: the same reports, diagnoses included, but for the time each took."""
    def graded(name, folder):
        env = {**cli_env, "BPGRADE_STORE_DIR": folder}
        proc = subprocess.run([*bpgrade_cmd, "grade", str(batch), "-e", "mlp2", "--seed", "7", "-q",
                               "--db", str(tmp_path / f"{name}.sqlite"), "--format", "jsonl"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        records = [json.loads(line) for line in proc.stdout.splitlines()]
        for record in records:
            record.pop("seconds")
        return sorted(records, key=lambda r: r["submission"])

    computed = graded("computed", "")
    filled = graded("filled", str(tmp_path / "truth"))
    stored = graded("stored", str(tmp_path / "truth"))
    assert computed == filled == stored
    codes = {t["diagnosis"]["code"] for r in computed for t in r["targets"] if t.get("diagnosis")}
    assert {"scale", "sign", "relu_mask", "error"} <= codes and len(computed) == len(MISTAKES) + 4


def test_prepare_fills_the_store_ahead(bpgrade_cmd, cli_env, tmp_path):
    env = {**cli_env, "BPGRADE_STORE_DIR": str(tmp_path / "truth")}
    runs = [subprocess.run([*bpgrade_cmd, "prepare", "-e", "mlp2", "--seed", "9"], capture_output=True, text=True,
                           env=env, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout.startswith("stored in ") and runs[1].stdout.startswith("already stored in ")
    assert "case set seed 9: 24 cases, 6 mistake models" in runs[0].stdout
    assert len(list((tmp_path / "truth").glob("*.truth"))) == 1
    off = subprocess.run([*bpgrade_cmd, "prepare", "-e", "mlp2", "--seed", "9"], capture_output=True, text=True,
                         env={**env, "BPGRADE_STORE_DIR": ""}, timeout=300)
    assert off.returncode == 1 and "the truth store is off (BPGRADE_STORE_DIR is empty): nothing" in off.stderr
