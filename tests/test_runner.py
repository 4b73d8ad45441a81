"""Running submissions: forbidden modules, errors, timeouts, output, and the wire."""

import os
import sys
import textwrap
import time

import numpy as np
import pytest

import bpgrade
from bpgrade import _seccomp, _wire, runner

from conftest import REFERENCE


def submit(tmp_path, mlp2, source, name="sub", **kw):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return bpgrade.check(mlp2, path, **kw)


def statuses(report):
    return report.status, {t.diagnosis.code if t.diagnosis else None for t in report.targets}


@pytest.mark.parametrize("source", [
    "import jax\n",
    "from torch import autograd\n",
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


def assert_gone(pid):
    """The process has ended (a zombie that nobody reaped has ended too)."""
    for _ in range(50):
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in "ZX":
            return
        time.sleep(0.1)
    pytest.fail(f"process {pid} still alive")


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
    assert "returned None (is a `return` missing?)" in by_name["b1"].message
    assert "not of real numbers" in by_name["w2"].message
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
    lambda f: f.replace(b"<f8", b"|O8"),
    lambda f: b"\xff" * 8 + f[8:],
], ids=["truncated", "trailing", "object-dtype", "huge-header"])
def test_wire_rejects_bad_frames(mangle):
    frame = _wire.encode({}, [np.ones((2, 2))])
    with pytest.raises(_wire.WireError):
        _wire.decode(mangle(frame))


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
