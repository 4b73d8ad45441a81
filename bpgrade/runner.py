"""Running a submission's functions on the cases: the one interface the sandbox replaces.

:func:`run_file` runs a submission file in a child Python process (see
:mod:`bpgrade._worker`): it gets the cases' inputs, never the truth, and sends
back plain float64 arrays. :func:`run_functions` calls functions that already
live in this process (the notebook API), where nothing is isolated.

Both return a :class:`RunResult`; comparing it against the truth is
:mod:`bpgrade.compare`'s job.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from . import _worker
from .cases import Case
from .packs import Pack

#: Characters of a submission's printed output kept in its report.
MAX_OUTPUT = 4000
#: Bytes of result frame read from a worker before it is cut off.
MAX_RESULT_BYTES = 64 << 20


@dataclass(frozen=True)
class Job:
    """What to run: the graded functions and, per case, their arguments.

    ``cases[i]`` is ``(inputs, params)``: the input arrays in call order, and
    the params dict. Every array is float64.
    """

    functions: Mapping[str, str]
    cases: tuple[tuple[tuple[np.ndarray, ...], Mapping[str, np.ndarray]], ...]
    timeout: float
    forbidden: tuple[str, ...]

    @classmethod
    def for_pack(cls, pack: Pack, cases: Sequence[Case], timeout: float | None = None) -> "Job":
        return cls(
            functions={t.name: t.function for t in pack.targets},
            cases=tuple((tuple(c.tensors[n] for n in pack.inputs), {n: c.tensors[n] for n in pack.params})
                        for c in cases),
            timeout=pack.timeout if timeout is None else timeout,
            forbidden=pack.forbidden_modules,
        )


@dataclass(frozen=True)
class TargetRun:
    """What one graded function returned.

    ``outputs[i]`` is its float64 result on case ``i``, for the cases before
    ``error_case``; ``dtypes[i]`` the dtype it was returned in.
    """

    missing: bool = False
    outputs: tuple[np.ndarray, ...] = ()
    dtypes: tuple[str, ...] = ()
    error: str | None = None
    error_case: int | None = None


@dataclass(frozen=True)
class RunResult:
    """The outcome of running a submission.

    ``status`` is ``"ok"`` when it ran (its functions may still have failed),
    else ``"error"``, ``"timeout"`` or ``"forbidden"``, with ``message`` saying
    why. ``targets`` is empty unless the submission ran.
    """

    status: str
    message: str = ""
    targets: Mapping[str, TargetRun] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0


def forbidden_imports(source: str, forbidden: Sequence[str]) -> list[str]:
    """The forbidden top-level modules that ``source`` imports, by statement or
    by ``__import__``/``importlib.import_module`` of a literal name.

    Raises:
      SyntaxError: ``source`` is not valid Python.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("__import__", "import_module")):
            names = [node.args[0].value]
        found.update(n.partition(".")[0] for n in names if n.partition(".")[0] in forbidden)
    return sorted(found)


def forbidden_references(fn: Callable, forbidden: Sequence[str]) -> list[str]:
    """The forbidden modules that ``fn`` reaches through its globals or closure
    (``jax.grad``, or ``grad`` imported from jax), also through nested
    functions and through the other functions it calls by name."""

    def module_of(value) -> str:
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        return (name or "").partition(".")[0] if isinstance(name, str) else ""

    found: set[str] = set()
    seen: set[int] = set()
    functions = [fn]
    while functions:
        f = functions.pop()
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            continue
        seen.add(id(f))
        names, stack = set(), [code]
        while stack:
            c = stack.pop()
            names.update(c.co_names)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        values = [f.__globals__[n] for n in names if n in f.__globals__]
        values += [cell.cell_contents for cell in f.__closure__ or () if cell.cell_contents is not None]
        found.update(module_of(v) for v in values)
        functions.extend(v for v in values if isinstance(v, types.FunctionType))
    return sorted(found & set(forbidden))


def run_functions(functions: Mapping[str, Callable], job: Job) -> RunResult:
    """Run functions that live in this process, keyed by target name
    (``"w1"``) or function name (``"grad_w1"``). No isolation and no timeout:
    this is for a student checking their own work in a notebook."""
    by_target = {name: functions.get(name, functions.get(fn_name)) for name, fn_name in job.functions.items()}
    used = sorted({m for fn in by_target.values() if fn is not None for m in forbidden_references(fn, job.forbidden)})
    if used:
        return RunResult("forbidden", _forbidden_message(used))
    start = time.perf_counter()
    header, arrays = _worker.call_targets(by_target, [(list(i), dict(p)) for i, p in job.cases])
    seconds = time.perf_counter() - start
    return RunResult("ok", targets=_target_runs(header, arrays, len(job.cases)), seconds=seconds)


def run_file(path: str | Path, job: Job) -> RunResult:
    """Run the submission file ``path`` in a child process and collect its results.

    The child gets a minimal environment (none of the grader's variables), a
    scratch directory as its working directory, and ``job.timeout`` seconds of
    wall-clock time, after which its whole process group is killed.
    """
    path = Path(path).resolve()
    try:
        used = forbidden_imports(path.read_text(encoding="utf-8"), job.forbidden)
    except SyntaxError as e:
        line = f" (line {e.lineno}: `{e.text.strip()}`)" if e.lineno and e.text else ""
        return RunResult("error", f"SyntaxError: {e.msg}{line}")
    except (OSError, UnicodeDecodeError) as e:
        return RunResult("error", f"cannot read the submission: {e}")
    if used:
        return RunResult("forbidden", _forbidden_message(used))

    arrays: list[np.ndarray] = []
    cases = []
    for inputs, params in job.cases:
        entry = {"inputs": [], "params": {}}
        for a in inputs:
            entry["inputs"].append(len(arrays))
            arrays.append(a)
        for name, a in params.items():
            entry["params"][name] = len(arrays)
            arrays.append(a)
        cases.append(entry)
    frame = _worker.encode({"submission": str(path), "functions": dict(job.functions),
                            "forbidden": list(job.forbidden), "cases": cases}, arrays)

    with tempfile.TemporaryDirectory(prefix="bpgrade-") as scratch:
        start = time.perf_counter()
        returncode, result, timed_out = _run_worker(frame, scratch, job.timeout)
        seconds = time.perf_counter() - start
        output = _read_output(Path(scratch) / "output.txt")

    if timed_out:
        return RunResult("timeout", f"stopped after the time limit of {job.timeout:g} s", output=output,
                         seconds=seconds)
    try:
        header, outputs = _worker.decode(result)
    except _worker.WireError:
        return RunResult("error", f"the submission ended its process (exit code {returncode}) before it returned "
                         "results", output=output, seconds=seconds)
    if header.get("forbidden"):
        return RunResult("forbidden", _forbidden_message(header["forbidden"]), output=output, seconds=seconds)
    if header.get("import_error"):
        return RunResult("error", f"the submission failed while being imported: {header['import_error']}",
                         output=output, seconds=seconds)
    try:
        targets = _target_runs(header, outputs, len(job.cases), job.functions)
    except (KeyError, TypeError, IndexError, ValueError):
        return RunResult("error", "the submission's results could not be read", output=output, seconds=seconds)
    return RunResult("ok", targets=targets, output=output, seconds=seconds)


def _forbidden_message(modules: Sequence[str]) -> str:
    return (f"uses {', '.join(modules)}: gradients must be derived by hand, so automatic differentiation "
            "earns no credit")


def _run_worker(frame: bytes, scratch: str, timeout: float) -> tuple[int | None, bytes, bool]:
    """Run the worker on ``frame``; returns (exit code, stdout bytes, timed out)."""
    env = {"PATH": os.defpath, "HOME": scratch, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-I", _worker.__file__], cwd=scratch, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    chunks: list[bytes] = []

    def read() -> None:
        kept = 0
        while block := proc.stdout.read(1 << 16):
            if kept < MAX_RESULT_BYTES:
                chunks.append(block)
                kept += len(block)

    def write() -> None:
        try:
            proc.stdin.write(frame)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    threads = [threading.Thread(target=read, daemon=True), threading.Thread(target=write, daemon=True)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    # The worker's exit (or its timeout) ends the run: whatever it started,
    # still holding the pipe or not, goes with its process group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    for t in threads:
        # A descendant that left the process group may still hold the pipe
        # open; the frame was written before the worker exited, so stop waiting.
        t.join(timeout=1.0)
    return proc.returncode, b"".join(chunks), timed_out


def _read_output(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_OUTPUT + 1)
    except OSError:
        return ""
    text = data[:MAX_OUTPUT].decode("utf-8", "replace")
    return text + "\n[... output cut]" if len(data) > MAX_OUTPUT else text


def _target_runs(header: Mapping, arrays: Sequence[np.ndarray], n_cases: int, expected: Mapping | None = None
                 ) -> dict[str, TargetRun]:
    """TargetRuns from a result header; with ``expected``, only those targets are read.

    Raises:
      ValueError: a record whose outputs do not cover every case up to its
        error (a result frame forged by the submission would fail here).
    """
    runs = {}
    for name in expected if expected is not None else header["targets"]:
        record = header["targets"][name]
        run = TargetRun(
            missing=bool(record["missing"]),
            outputs=tuple(arrays[i] for i in record["outputs"]),
            dtypes=tuple(str(d) for d in record["dtypes"]),
            error=None if record["error"] is None else str(record["error"])[:_worker.MAX_MESSAGE],
            error_case=None if record["error_case"] is None else int(record["error_case"]),
        )
        covered = 0 if run.missing else n_cases if run.error is None else run.error_case
        if not 0 <= covered <= n_cases or len(run.outputs) != covered or len(run.dtypes) != covered:
            raise ValueError(f"{name}: results for {len(run.outputs)} cases, expected {covered}")
        runs[name] = run
    return runs
