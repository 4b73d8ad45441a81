"""Running untrusted submission files, many at once, each isolated.

A :class:`Sandbox` starts one fork server per batch (:mod:`bpgrade._worker`,
a fresh interpreter that imports NumPy and never holds the truth) and sends it
the cases' inputs once. Each submission then costs a ``fork`` of that server,
not a new interpreter. A worker:

- runs in a session of its own, in its own scratch folder, which is emptied
  before the next submission of its slot;
- has limits on CPU time, address space, file size and open files, and the
  grader enforces its wall-clock time;
- gets a minimal environment, none of the grader's variables;
- when the grader runs as root, drops to a uid of its own (one per slot,
  from :data:`UID_BASE`), limited to one process by default (no forks, no
  threads), so that it can neither lift its limits, nor leave anything
  running, nor touch the grader's files or other submissions;
- where the kernel has Landlock, may read only the standard library and
  NumPy and write only its scratch folder (so autodiff libraries and other
  files are out of reach whatever it does to ``sys.path`` or import hooks),
  may not signal processes outside its sandbox, and may not open TCP
  connections;
- sends back one result frame of plain float64 arrays through a pipe.

When a worker finishes, or runs out of time, everything it started goes: its
process group, and, where more than one process is allowed under its own
uid, every process of that uid.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Iterator

import numpy as np

from . import _worker
from .errors import SubmissionError
from .notebooks import read_notebook
from .runner import Job, RunResult, forbidden_imports, forbidden_message, result_from_frame

#: Workers run as uid UID_BASE + slot when the grader runs as root.
UID_BASE = 64000
#: Workers at once by default: two per CPU that this process may run on (its
#: affinity, as a container or ``taskset`` sets it), so that one's fork, start
#: and result pipe overlap with the other's computing (measured: 2 per CPU
#: grades about a third more per second than 1 per CPU on 2 CPUs; 4 per CPU no more).
DEFAULT_JOBS = 2 * len(os.sched_getaffinity(0))
#: Bytes of result frame read from a worker before it is cut off.
MAX_RESULT_BYTES = 64 << 20


class SandboxError(RuntimeError):
    """The fork server failed: a fault of the machine or of bpgrade, not of a submission."""


def capabilities() -> str:
    """A line saying how workers are isolated on this machine."""
    parts = ["fork server", "rlimits", "own session"]
    if os.geteuid() == 0:
        parts.append(f"own uid per worker ({UID_BASE}+)")
    abi = _worker.landlock_abi()
    parts.append(f"Landlock ABI {abi}" if abi else "no Landlock (files readable by the user stay readable)")
    return ", ".join(parts)


@dataclass
class _Running:
    key: Hashable
    slot: int
    job: int
    fd: int
    started: float
    pid: int | None = None
    buf: bytearray = field(default_factory=bytearray)
    status: int | None = None
    finished: str | None = None  # why it is over: "frame", "eof", "exit", "timeout", "flood"
    notes: tuple[str, ...] = ()


class Sandbox:
    """A fork server and up to ``jobs`` concurrent workers for one batch.

    Use as a context manager; :meth:`run` yields ``(key, RunResult)`` as
    submissions finish.
    """

    def __init__(self, job: Job, jobs: int = 1):
        self.job = job
        self.jobs = max(1, jobs)
        self._root = os.geteuid() == 0
        self._scratch: Path | None = None
        self._server: subprocess.Popen | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> "Sandbox":
        self._scratch = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        self._scratch.chmod(0o711)
        if self._root:
            shut = [p for p in self._scratch.parents if not p.stat().st_mode & 0o001]
            if shut:
                shutil.rmtree(self._scratch)
                raise SandboxError(f"workers run under their own uid and cannot enter {shut[0]}: set TMPDIR to a "
                                   "folder that every user may enter (such as /tmp)")
        for slot in range(self.jobs):
            path = self._slot_dir(slot)
            path.mkdir(mode=0o700)
            if self._root:
                os.chown(path, UID_BASE + slot, UID_BASE + slot)
        self._start_server()
        return self

    def __exit__(self, *exc) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._server is not None:
            try:
                self._server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._server.pid, signal.SIGKILL)
                self._server.wait()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _slot_dir(self, slot: int) -> Path:
        return self._scratch / f"slot-{slot}"

    def _start_server(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        arrays: list[np.ndarray] = []

        def index(tree):
            # Arrays travel once, raw; the structure around them as JSON ints.
            if tree is None:
                return None
            if isinstance(tree, np.ndarray):
                arrays.append(tree)
                return len(arrays) - 1
            if isinstance(tree, dict):
                return {k: index(v) for k, v in tree.items()}
            return [index(v) for v in tree]

        cases = [{"inputs": index(list(inputs)), "params": index(params)} for inputs, params in self.job.cases]
        limits = self.job.limits
        setup = {"functions": dict(self.job.functions), "forbidden": list(self.job.forbidden), "cases": cases,
                 "nested": sorted(self.job.nested),
                 "scratch": str(self._scratch), "uid_base": UID_BASE,
                 "limits": {"cpu": max(1, math.ceil(limits.cpu)), "memory": limits.memory,
                            "file_size": limits.file_size, "processes": limits.processes}}
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        with open(self._scratch / "server.log", "wb") as log:
            self._server = subprocess.Popen(
                [sys.executable, "-I", _worker.__file__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=self._scratch,
                start_new_session=True)
        theirs.close()
        self._server.stdin.write(_worker.encode(setup, arrays))
        self._server.stdin.close()
        self._sock = ours

    def run(self, submissions: Iterable[tuple[Hashable, str | Path]]) -> Iterator[tuple[Hashable, RunResult]]:
        """Run every ``(key, path)``; yields ``(key, RunResult)`` in the order they finish."""
        pending = iter(submissions)
        exhausted = False
        free = list(range(self.jobs))[::-1]
        running: dict[int, _Running] = {}
        by_pid: dict[int, _Running] = {}
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ, None)
        next_job = 0
        try:
            while True:
                while free and not exhausted:
                    try:
                        key, path = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    source, early, notes = self._read(path)
                    if early is not None:
                        yield key, dataclasses.replace(early, notes=notes)
                        continue
                    slot = free.pop()
                    run = self._launch(key, Path(path).name, source, slot, next_job)
                    run.notes = notes
                    running[next_job] = run
                    sel.register(run.fd, selectors.EVENT_READ, run)
                    next_job += 1
                if exhausted and not running and len(free) == self.jobs:
                    return
                now = time.monotonic()
                deadlines = [r.started + self.job.limits.wall for r in running.values() if not r.finished]
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                for sel_key, _ in sel.select(timeout):
                    if sel_key.data is None:
                        self._control(running, by_pid, free)
                    else:
                        self._drain(sel_key.data)
                now = time.monotonic()
                for run in list(running.values()):
                    if not run.finished and now - run.started > self.job.limits.wall:
                        run.finished = "timeout"
                    if run.finished and run.pid is not None:
                        sel.unregister(run.fd)
                        os.close(run.fd)
                        del running[run.job]
                        by_pid.pop(run.pid, None)
                        _worker.send_message(self._sock, {"op": "sweep", "slot": run.slot, "pid": run.pid})
                        yield run.key, dataclasses.replace(self._result(run, now), notes=run.notes)
        finally:
            sel.close()
            for run in running.values():
                os.close(run.fd)

    def _read(self, path: str | Path) -> tuple[str, RunResult | None, tuple[str, ...]]:
        """The source the worker runs (for a notebook, its :class:`~bpgrade.notebooks.Program`),
        or the result that stops it before it runs; and the notes on what of it runs."""
        notes: tuple[str, ...] = ()
        if Path(path).suffix == ".ipynb":
            try:
                program = read_notebook(path, run_all=self.job.run_all_cells)
            except SubmissionError as e:
                return "", RunResult("error", str(e)), ()
            source, static, notes = program.to_json(), program.source(), program.notes
        else:
            try:
                source = static = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                return "", RunResult("error", f"cannot read the submission: {e}"), ()
        try:
            used = forbidden_imports(static, self.job.forbidden)
        except (SyntaxError, ValueError):
            used = []  # the worker's compile reports it, with the line
        if used:
            return "", RunResult("forbidden", forbidden_message(used)), notes
        return source, None, notes

    def _launch(self, key: Hashable, name: str, source: str, slot: int, job: int) -> _Running:
        scratch = self._slot_dir(slot)
        for entry in os.scandir(scratch):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        (scratch / "submission.py").write_text(source, encoding="utf-8")
        (scratch / "submission.py").chmod(0o644)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        try:
            _worker.send_message(self._sock, {"op": "run", "job": job, "slot": slot, "name": name}, [write_fd])
        except OSError as e:
            raise SandboxError(f"the fork server is gone ({e})") from None
        finally:
            os.close(write_fd)
        return _Running(key, slot, job, read_fd, time.monotonic())

    def _control(self, running: dict[int, _Running], by_pid: dict[int, _Running], free: list[int]) -> None:
        data = self._sock.recv(1 << 16)
        if not data:
            self._server.wait(timeout=5)
            log = (self._scratch / "server.log").read_text(errors="replace").strip().splitlines()
            raise SandboxError(f"the fork server ended unexpectedly: {log[-1] if log else 'no message'}")
        msg = json.loads(data)
        if "pid" in msg:
            run = running[msg["job"]]
            run.pid = msg["pid"]
            by_pid[run.pid] = run
        elif "exit" in msg:
            run = by_pid.get(msg["exit"])
            if run is not None and not run.finished:
                run.status = msg["status"]
                self._drain(run)
                run.finished = run.finished or "exit"
        elif "swept" in msg:
            free.append(msg["swept"])

    def _drain(self, run: _Running) -> None:
        """Read what the worker has written; mark the run finished at a whole frame or EOF."""
        while not run.finished:
            try:
                chunk = os.read(run.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                run.finished = "eof"
                return
            run.buf += chunk
            if len(run.buf) > MAX_RESULT_BYTES:
                run.finished = "flood"
            elif _worker.frame_length(run.buf) == len(run.buf):
                run.finished = "frame"

    def _result(self, run: _Running, now: float) -> RunResult:
        seconds = now - run.started
        output = _read_output(self._slot_dir(run.slot) / "output.txt", self.job.limits.output)
        limits = self.job.limits
        if run.finished == "timeout":
            return RunResult("timeout", f"stopped after the time limit of {limits.wall:g} s", output=output,
                             seconds=seconds)
        if run.finished == "flood":
            return RunResult("error", "sent back more data than any gradient holds", output=output, seconds=seconds)
        try:
            header, outputs = _worker.decode(bytes(run.buf))
        except _worker.WireError:
            return RunResult(*_death(run.status, limits.cpu), output=output, seconds=seconds)
        return result_from_frame(header, outputs, self.job, output, seconds)


def _death(status: int | None, cpu: float) -> tuple[str, str]:
    """The status and message of a worker that sent no result frame, from its wait status."""
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "timeout", f"used up its CPU time limit of {cpu:g} s"
        return "error", f"the submission's process was killed by {signal.Signals(sig).name}"
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "unknown"
    return "error", f"the submission ended its process (exit code {code}) before it returned results"


def _read_output(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + "\n[... output cut]" if len(data) > limit else text


def run_file(path: str | Path, job: Job) -> RunResult:
    """Run one submission file in a sandbox of its own."""
    with Sandbox(job) as sandbox:
        return next(sandbox.run([(0, path)]))[1]
