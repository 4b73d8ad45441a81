"""Running submissions: forbidden modules, errors, timeouts, output, and the wire."""

import json
import os
import struct
import sys
import textwrap
import time

import numpy as np
import pytest

import bpgrade
from bpgrade import _seccomp, _wire, runner
from bpgrade.errors import SubmissionError
from bpgrade.runner import Job, Limits
from bpgrade.forkserver import _remove_tree
from bpgrade.sandbox import Sandbox
from bpgrade.submissions import read_source

from conftest import REFERENCE


def submit(tmp_path, mlp2, source, name="sub", **kw):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return bpgrade.check(mlp2, path, **kw)


def statuses(report):
    return report.status, {t.diagnosis.code if t.diagnosis else None for t in report.targets}


@pytest.mark.parametrize("source", [
    "import jax\n",
    "from functorch import grad\n",
    "import autograd.numpy as anp\n",
    "def grad_w1(x, y, params):\n    return __import__('jax').grad\n",
    "import importlib\nm = importlib.import_module('tensorflow')\n",
], ids=["import", "from-import", "submodule", "__import__", "import_module"])
def test_autodiff_imports_are_forbidden_before_running(tmp_path, mlp2, source):
    report = submit(tmp_path, mlp2, source)
    assert statuses(report) == ("forbidden", {"forbidden"})
    assert report.score == 0 and len(report.targets) == 5
    assert "derived by hand" in report.message


def test_autodiff_reached_by_a_computed_name_is_forbidden_at_run_time(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, """
        import importlib
        def grad_w1(x, y, params):
            return importlib.import_module("ja" + "x").numpy.zeros((x.shape[1], 1))
    """)
    assert report.status == "forbidden" and "jax" in report.message
    assert all(not t.passed for t in report.targets)


def test_prints_stay_out_of_the_grader_output_and_are_kept(tmp_path, mlp2, capfd):
    source = REFERENCE.read_text() + "\nprint('w1 pass 1/1 score 5/5')\nimport sys\nprint('noise', file=sys.stderr)\n"
    report = submit(tmp_path, mlp2, source)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert report.passed
    assert "score 5/5" in report.output and "noise" in report.output


def test_output_flood_is_cut(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, "print('x' * 10_000_000)\n")
    assert len(report.output) < runner.Limits().output + 100 and report.output.endswith("[... output cut]")


def test_endless_loop_times_out_quickly(tmp_path, mlp2):
    start = time.monotonic()
    report = submit(tmp_path, mlp2, "while True:\n    pass\n", timeout=1.0)
    assert time.monotonic() - start < 8
    assert statuses(report) == ("timeout", {"timeout"})
    assert "1 s" in report.message


FORKS = textwrap.dedent("""
    import os, time
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(60)
        os._exit(0)
    print("child", pid, flush=True)
""")


@pytest.mark.skipif(not _seccomp.available() and os.geteuid() != 0,
                    reason="without seccomp (x86-64 only) only a worker's own uid stops it forking")
def test_a_worker_cannot_fork(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, FORKS + REFERENCE.read_text())
    assert report.status == "error", report.message
    assert "line 3: `pid = os.fork()`" in report.message
    assert "PermissionError" in report.message or "BlockingIOError" in report.message


def test_syntax_error_quotes_the_line(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, "def grad_w1(x, y, params)\n    return x\n")
    assert report.status == "error"
    assert "SyntaxError" in report.message and "line 1" in report.message


@pytest.mark.parametrize("source,words", [
    ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ("raise RuntimeError('not ready')\n", "RuntimeError: not ready (line 1"),
    ("import os\nos._exit(0)\n", "ended its process"),
    ("", None),
])
def test_submissions_that_stop_while_imported(tmp_path, mlp2, source, words):
    report = submit(tmp_path, mlp2, source)
    if words is None:  # an empty file runs fine and defines nothing
        assert statuses(report) == ("ok", {"missing"})
    else:
        assert report.status == "error" and words in report.message, report.message
        assert all(t.diagnosis.code == "error" for t in report.targets)


def test_errors_in_functions_quote_the_students_line(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, """
        import numpy as np

        def grad_w1(x, y, params):
            h = params["w1"].shape[1]
            return x.T @ np.ones((h, h))

        def grad_b1(x, y, params):
            pass

        def grad_w2(x, y, params):
            return "0.5"
    """)
    by_name = {t.name: t for t in report.targets}
    assert report.status == "ok"
    assert "ValueError" in by_name["w1"].message and "line 6: `return x.T @ np.ones((h, h))`" in by_name["w1"].message
    assert by_name["b1"].message == "in case 0 (N=1, d=3, h=4, seed 0), grad_b1 returned None: is a `return` missing?"
    assert by_name["b1"].diagnosis.text == ("grad_b1 returned None: is a `return` missing? It must return d loss / "
                                            "d b1 as an array of shape (h,).")
    assert "grad_w2 returned text, not an array of numbers" in by_name["w2"].message
    assert by_name["b2"].diagnosis.code == "missing"


def test_grader_environment_is_withheld(tmp_path, mlp2, monkeypatch):
    monkeypatch.setenv("BPGRADE_TEST_SECRET", "hunter2")
    report = submit(tmp_path, mlp2, """
        import os
        def grad_w1(x, y, params):
            raise RuntimeError(repr(dict(os.environ)))
    """)
    w1 = report.targets[0]
    assert "RuntimeError" in w1.message and "hunter2" not in w1.message and "PATH" in w1.message


def test_wire_round_trip_keeps_shapes_including_0d():
    arrays = [np.zeros(()), np.arange(6.0).reshape(2, 3), np.ones((0, 4))]
    header, back = _wire.decode(_wire.encode({"k": 1}, arrays))
    assert header["k"] == 1
    assert [a.shape for a in back] == [(), (2, 3), (0, 4)]
    np.testing.assert_array_equal(back[1], arrays[1])


@pytest.mark.parametrize("mangle", [
    lambda f: f[:-1],
    lambda f: f + b"\0",
    lambda f: _reheaded(f, lambda h: {**h, "int64": [0]}),
    lambda f: _reheaded(f, lambda h: {**h, "shapes": [[2, 2.0]]}),
    lambda f: _reheaded(f, lambda h: {**h, "shapes": [[2, 2], [0]], "int64": [1, 1]}),
    lambda f: b"\xff" * 8 + f[8:],
], ids=["truncated", "trailing", "int64-from-a-worker", "float-shape", "int64-twice", "huge-header"])
def test_wire_rejects_bad_frames(mangle):
    frame = _wire.encode({}, [np.ones((2, 2))])
    with pytest.raises(_wire.WireError):
        _wire.decode(mangle(frame))


def _reheaded(frame: bytes, change) -> bytes:
    """``frame`` with its JSON header changed by ``change``."""
    size = struct.unpack_from("<Q", frame)[0]
    head = json.dumps(change(json.loads(frame[8:8 + size]))).encode()
    return struct.pack("<Q", len(head)) + head + frame[8 + size:]


def test_an_int64_array_is_read_where_the_frame_may_hold_one():
    frame = _wire.encode({}, [np.ones(2), np.arange(3)])
    header, arrays = _wire.decode(frame, dtypes=(_wire.WIRE_DTYPE, _wire.INT_DTYPE))
    assert header["int64"] == [1] and arrays[1].dtype == np.int64 and list(arrays[1]) == [0, 1, 2]


def test_forged_results_for_too_few_cases_are_rejected():
    header = {"targets": {"w1": {"missing": False, "error": None, "error_case": None, "outputs": []}}}
    with pytest.raises(ValueError):
        runner._target_runs(header, [], n_cases=24)


def test_in_process_functions_that_use_autodiff_are_forbidden(mlp2):
    import jax

    def grad_b2(x, y, params):
        return jax.grad(lambda b: b.sum())(params["b2"])

    report = bpgrade.check(mlp2, {"b2": grad_b2})
    assert report.status == "forbidden" and "jax" in report.message


def test_forbidden_references_sees_names_imported_from_a_module():
    from jax import grad

    def uses_grad(x):
        return grad(x)

    def clean(x):
        return np.sum(x)

    def calls_a_helper(x):
        return uses_grad(x) + clean(x)

    assert runner.forbidden_references(uses_grad, ["jax"]) == ["jax"]
    assert runner.forbidden_references(calls_a_helper, ["jax"]) == ["jax"]
    assert runner.forbidden_references(clean, ["jax"]) == []
    assert sys.modules["numpy"] is np


def test_a_frame_is_read_in_time_linear_in_its_length():
    """A 6 MB header is refused at its length, before it is read; a header nested 100,000 deep
    is a WireError, not a RecursionError; a frame fed 64 KiB at a time is parsed once."""
    reader = _wire.FrameReader()
    with pytest.raises(_wire.WireError, match="header is longer"):
        reader.feed(struct.pack("<Q", 6 << 20) + b"{")
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(_wire.WireError, match="not JSON"):
        _wire.FrameReader().feed(struct.pack("<Q", len(deep)) + deep)
    frame = _wire.encode({"targets": {}}, [np.arange(float(n)) for n in range(1, 2000)])
    reader, calls = _wire.FrameReader(), 0
    parse = _wire._parse_header

    def counted(raw, dtypes):
        nonlocal calls
        calls += 1
        return parse(raw, dtypes)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_wire, "_parse_header", counted)
        whole = [reader.feed(frame[i:i + (64 << 10)]) for i in range(0, len(frame), 64 << 10)]
    assert whole[-1] and not any(whole[:-1]) and calls == 1
    header, arrays, rest = reader.take()
    assert len(arrays) == 1999 and rest == b"" and not arrays[5].flags.writeable


def test_a_slow_caller_does_not_make_waiting_results_late(mlp2, tmp_path):
    """Results that wait while the caller compares and diagnoses others (here: sleeps for
    longer than the time limit) are not judged late."""
    job = Job.for_pack(mlp2, bpgrade.generate_cases(mlp2), Limits(wall=1.0, cpu=1.0))
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"s{i}.py")
        paths[-1].write_text(REFERENCE.read_text())
    statuses = []
    with Sandbox(job, jobs=4) as sandbox:
        for _, run in sandbox.run((i, path, ()) for i, path in enumerate(paths)):
            statuses.append(run.status)
            time.sleep(1.5)
    assert statuses == ["ok"] * 4


def test_scratch_is_removed_whatever_is_left_in_it(tmp_path, monkeypatch):
    root = tmp_path / "scratch"
    root.mkdir()
    monkeypatch.chdir(root)
    for _ in range(3000):  # deeper than a path may name, and than Python may recurse
        os.mkdir("d")
        os.chdir("d")
    monkeypatch.chdir(tmp_path)
    os.mkfifo(root / "fifo")
    (root / "shut").mkdir()
    (root / "shut" / "f").write_text("x")
    (root / "shut").chmod(0)
    (root / "link").symlink_to(REFERENCE)
    _remove_tree(root)
    assert not root.exists() and REFERENCE.exists()


def test_sources_are_read_as_python_reads_them(tmp_path):
    text = "# -*- coding: latin-1 -*-\nname = 'café'\n"
    (tmp_path / "latin1.py").write_bytes(text.encode("latin-1"))
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfx = 1\r\n")
    assert read_source(tmp_path / "latin1.py", 1 << 20) == text
    assert read_source(tmp_path / "bom.py", 1 << 20) == "x = 1\n"
    (tmp_path / "bad.py").write_bytes(b"x = '\xff'\n")
    with pytest.raises(SubmissionError, match="cannot decode bad.py"):
        read_source(tmp_path / "bad.py", 1 << 20)
    with pytest.raises(SubmissionError, match="holds 2 MiB of code; bpgrade runs at most 1 MiB"):
        read_source(_big(tmp_path), 1 << 20)
    os.mkfifo(tmp_path / "fifo.py")
    with pytest.raises(SubmissionError, match="not a regular file"):
        read_source(tmp_path / "fifo.py", 1 << 20)
    (tmp_path / "link.py").symlink_to(tmp_path / "bom.py")
    with pytest.raises(SubmissionError, match="symbolic link"):
        read_source(tmp_path / "link.py", 1 << 20)


def _big(tmp_path):
    path = tmp_path / "big.py"
    path.write_text("#" * (2 << 20))
    return path


def test_the_size_limit_is_the_max_size_option(tmp_path, mlp2):
    source = REFERENCE.read_text()
    assert submit(tmp_path, mlp2, source).passed
    report = submit(tmp_path, mlp2, source, max_size=1000)
    assert report.status == "error" and "bpgrade runs at most 0.000954 MiB (--max-size)" in report.message


OLD_NUMPY = REFERENCE.read_text().replace("import numpy as np", """import numpy as np

EPS = np.float(0) + np.product([1.0]) * 0
MISSING = np.NaN""").replace('return d_l2.sum(axis=0)', 'return np.reshape(d_l2.sum(axis=0), newshape=(1,))')


def test_code_written_for_an_older_numpy_runs_with_a_note(tmp_path, mlp2):
    assert "np.float(" in OLD_NUMPY and "newshape" in OLD_NUMPY
    report = submit(tmp_path, mlp2, OLD_NUMPY)
    assert report.passed, report.to_text()
    [note] = report.notes
    assert note.startswith(f"NumPy {np.__version__}, here, has no np.float, np.NaN, np.product, "
                           "np.reshape(newshape=): bpgrade gave them")


def test_an_error_inside_numpy_names_its_version(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, """
        import numpy as np

        def grad_w1(x, y, params):
            return np.linalg.inv(np.zeros((2, 3)))
    """)
    assert f"[NumPy {np.__version__}]" in report.targets[0].message


@pytest.mark.parametrize("module", ["scipy", "opt_einsum", "glob", "no_such_module"])
def test_an_installed_module_that_is_not_allowed_gets_the_documented_message(tmp_path, mlp2, module):
    report = submit(tmp_path, mlp2, f"import {module}\n")
    assert report.status == "error"
    assert f"No module named '{module}' here: a submission may import numpy and these standard modules" \
        in report.message
    assert "site-packages" not in report.message and "PermissionError" not in report.message


def test_submissions_are_compiled_without_the_graders_future_imports(tmp_path, mlp2):
    """bpgrade's worker has `from __future__ import annotations`; a submission must not inherit it."""
    report = submit(tmp_path, mlp2, "def grad_w1(x: NotAName, y, params):\n    return x\n")
    assert report.status == "error" and "NameError: name 'NotAName' is not defined" in report.message


def test_one_endless_function_fails_alone(tmp_path, mlp2):
    source = REFERENCE.read_text().replace("def grad_x(x, y, params):",
                                           "def grad_x(x, y, params):\n    while True:\n        pass\n")
    report = submit(tmp_path, mlp2, source, timeout=2.0)
    assert report.status == "ok" and report.score == 4.0
    x = report.targets[4]
    assert x.diagnosis.code == "timeout"
    assert x.message.startswith("grad_x ran past its share of the time limit (0.333 s) in case 0")


def test_a_function_that_catches_its_timeout_still_cannot_hold_the_batch(tmp_path, mlp2):
    report = submit(tmp_path, mlp2, """
        def grad_w1(x, y, params):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
    """, timeout=1.0)
    assert report.status == "timeout" and "time limit of 1 s" in report.message


def test_the_next_submission_runs_while_the_caller_handles_a_result(mlp2, tmp_path):
    """No idle slot: with one worker at a time, the next submission is started before the last one's
    result is handed over, and runs while the caller compares and records it (here: sleeps)."""
    job = Job.for_pack(mlp2, bpgrade.generate_cases(mlp2))
    fast, slow = tmp_path / "fast.py", tmp_path / "slow.py"
    fast.write_text(REFERENCE.read_text())
    slow.write_text("import time\ntime.sleep(1.0)\n" + REFERENCE.read_text())
    with Sandbox(job, jobs=1) as sandbox:
        results = sandbox.run([("fast", fast, ()), ("slow", slow, ())])
        first, _ = next(results)
        time.sleep(2.0)
        start = time.monotonic()
        second, run = next(results)
        waited = time.monotonic() - start
    assert (first, second, run.status) == ("fast", "slow", "ok")
    # Started only when asked for, it would take its second of sleep and more.
    assert waited < 0.5


def test_numpys_random_and_testing_are_imported_for_the_code_that_names_them(mlp2, tmp_path):
    """The fork server imports numpy.random and numpy.testing only once a submission's code names
    them (each makes every later fork dearer); that submission finds both, and so does every
    later one. Code that reaches one without naming it finds it missing, with the usual message."""
    job = Job.for_pack(mlp2, bpgrade.generate_cases(mlp2))
    # Neither word appears in this submission's text.
    looks = ("import sys\nimport numpy as np\nprint(sorted(m for m in sys.modules if m in ('numpy.ran' + 'dom', "
             "'numpy.test' + 'ing')))\n" + REFERENCE.read_text())
    reaches = looks + "\ndef grad_x(x, y, params):\n    return getattr(np, 'ran' + 'dom').randn(*x.shape)\n"
    uses = REFERENCE.read_text() + textwrap.dedent("""
        np.random.seed(0)
        _grad_b2 = grad_b2
        def grad_b2(x, y, params):
            np.testing.assert_allclose(np.random.default_rng(0).normal(size=2), np.random.default_rng(0).normal(size=2))
            return _grad_b2(x, y, params)
        """)
    paths = []
    for name, source in (("before", looks), ("reaches", reaches), ("uses", uses), ("after", looks)):
        paths.append((name, tmp_path / f"{name}.py", ()))
        paths[-1][1].write_text(source)
    with Sandbox(job, jobs=1) as sandbox:
        runs = dict(sandbox.run(paths))
    assert runs["before"].status == runs["uses"].status == runs["after"].status == "ok"
    assert runs["before"].output.strip() == "[]"
    assert runs["uses"].targets["b2"].error is None and len(runs["uses"].targets["b2"].outputs) == len(job.cases)
    assert runs["after"].output.strip() == "['numpy.random', 'numpy.testing']"
    error = runs["reaches"].targets["x"].error
    assert "No module named 'numpy.random' here: bpgrade imports numpy.random for code that names it" in error, error
