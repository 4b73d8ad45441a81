"""Running untrusted submission files, many at once, each isolated.

A :class:`Sandbox` starts one fork server per batch (:mod:`bpgrade._worker`,
a fresh interpreter that imports NumPy and never holds the truth nor the
hidden cases' inputs) and sends it the public cases' inputs once. Each
submission then costs a ``fork`` of that server, not a new interpreter. A worker:

- runs in a session of its own, with limits on CPU time, address space, the
  size of what it prints and open files; the grader enforces its wall-clock time;
- gets a minimal environment, none of the grader's variables, and an empty
  folder that it may not write to as its working directory;
- gets its source in its run message (a large one in a memory file) and prints
  into a memory file, both from the grader: no file of it lies in a folder, so
  nothing can replace or read it;
- under seccomp (x86-64, root or not): may create no process or thread, run
  no program, make no socket, write, create or change no file, and signal,
  trace or re-limit no process but itself (:mod:`bpgrade._seccomp`);
- when the grader runs as root, drops to a uid of its own (one per slot,
  from :data:`UID_BASE`), limited to one process;
- where the kernel has Landlock, may read only the standard library and
  NumPy (so autodiff libraries and other files are out of reach whatever it
  does to ``sys.path`` or import hooks);
- sends back a result frame of plain float64 arrays on a socket; when the
  batch has hidden cases, it receives their inputs only after that, and sends
  a second frame, of which only numbers and checked words are kept.

When a worker finishes, or runs out of time, its process group is killed: it
holds the worker alone. The grader reads nothing a worker wrote but its
frames and its output, each capped; a frame is parsed once, and a worker that
sends one slowly or badly costs only its own result.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import re
import selectors
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import _imports, _torch, _worker
from ._wire import FrameReader, WireError, encode, send_message
from .errors import SubmissionError
from .forkserver import SandboxError, Server
from .notebooks import exported_notebook, parse_notebook, read_notebook
from .packages import is_package, read_package
from .runner import Job, RunResult, forbidden_imports, forbidden_message, result_from_frames
from .safetext import clean, clean_name
from .submissions import read_source

#: Workers run as uid UID_BASE + slot when the grader runs as root (2 slots per worker at once).
UID_BASE = 64000
#: Workers at once by default: two per CPU that this process may run on (its
#: affinity, as a container or ``taskset`` sets it), so that one's fork, start
#: and result socket overlap with the other's computing (measured: 2 per CPU
#: grades about a third more per second than 1 per CPU on 2 CPUs; 4 per CPU no more).
DEFAULT_JOBS = 2 * len(os.sched_getaffinity(0))
#: Bytes read from one worker before the others get a turn.
_READ_TURN = 1 << 20
#: Bytes a worker may queue on its result socket before it must wait for the grader: more
#: than any real result, so that a worker never waits while the grader compares another.
_RESULT_BUFFER = 4 << 20
#: Seconds to wait for the fork server to start.
_START_TIMEOUT = 60


#: Said where a pack allows PyTorch, a submission uses it, and it is not installed.
TORCH_MISSING = "this exercise takes PyTorch, which is not installed here: pip install 'bpgrade[torch]'"


def describe_isolation(ready: dict) -> str:
    """A line saying how the fork server's workers are isolated on this machine."""
    parts = ["fork server", "own session", "rlimits"]
    if ready.get("uid"):
        parts.append(f"own uid per worker ({UID_BASE}+)")
    parts.append("seccomp (no processes, sockets, file writes or signals out)" if ready.get("seccomp")
                 else f"no seccomp ({ready.get('without_seccomp')}): workers may create processes and sockets")
    abi = ready.get("landlock")
    parts.append(f"Landlock ABI {abi} (reads: the standard library and NumPy)" if abi
                 else "no Landlock (files the grader's user can read stay readable, autodiff libraries among them)")
    return ", ".join(parts)


@dataclass
class _Running:
    key: Hashable
    slot: int
    job: int
    sock: socket.socket
    output_fd: int
    started: float
    deadline: float
    pid: int | None = None
    reader: FrameReader = field(default_factory=FrameReader)
    frames: list = field(default_factory=list)
    status: int | None = None
    finished: str | None = None  # why it is over: "frame", "exit", "timeout", "unreadable"
    closed: bool = False  # the worker's end of the socket is closed: its exit status is on the way
    output: str | None = None  # what it printed before it saw the hidden cases
    notes: tuple[str, ...] = ()
    left_out: Mapping[str, str] = field(default_factory=dict)


class Sandbox:
    """A fork server and up to ``jobs`` concurrent workers for one batch.

    Use as a context manager; :meth:`run` yields ``(key, RunResult)`` as
    submissions finish. ``isolation`` says how workers are isolated here.
    ``server``: one started earlier (:class:`Server`), which the sandbox then
    owns; None starts one.
    """

    def __init__(self, job: Job, jobs: int = 1, server: Server | None = None):
        self.job = job
        self.jobs = max(1, jobs)
        self.isolation = ""
        self._server = server
        self._hidden: int | None = None

    def __enter__(self) -> "Sandbox":
        try:
            if self._server is None:
                self._server = Server()
            self._start_server()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.close()
        if self._hidden is not None:
            os.close(self._hidden)
            self._hidden = None

    @property
    def _sock(self) -> socket.socket:
        return self._server.sock

    def _start_server(self) -> None:
        n_public = len(self.job.cases) - self.job.hidden
        public, arrays = _case_frame(self.job.cases[:n_public])
        if self.job.hidden:
            # The hidden cases' inputs go to a worker only after it has sent its public results:
            # a sealed memory file that neither the server nor a worker can change.
            hidden, hidden_arrays = _case_frame(self.job.cases[n_public:])
            self._hidden = os.memfd_create("bpgrade-hidden-cases", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            _write_all(self._hidden, encode({"cases": hidden}, hidden_arrays))
            fcntl.fcntl(self._hidden, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        limits = self.job.limits
        setup = {"functions": dict(self.job.functions), "forbidden": list(self.job.forbidden), "cases": public,
                 "hidden": self.job.hidden, "nested": sorted(self.job.nested), "scratch": str(self._server.scratch),
                 "uid_base": UID_BASE, "root": self._server.root, "modules": dict(self.job.modules),
                 "display_only": list(self.job.display_only), "allowed": list(self.job.allowed),
                 "module": self.job.module, "torch": self.job.torch,
                 "harness": None if self.job.harness is None else
                 {"source": self.job.harness, "groups": {k: [list(m) for m in v] for k, v in self.job.groups.items()},
                  "arguments": list(self.job.arguments)},
                 "limits": {"wall": limits.wall, "cpu": max(1, math.ceil(limits.cpu)), "memory": limits.memory,
                            "file_size": limits.file_size}}
        server = self._server.process
        try:
            server.stdin.write(encode(setup, arrays))
            server.stdin.close()
        except BrokenPipeError:
            pass  # the server is gone: its log says why, below
        self._sock.settimeout(_START_TIMEOUT)
        try:
            data = self._sock.recv(1 << 16)
        except TimeoutError:
            data = b""
        self._sock.settimeout(None)
        if not data:
            raise SandboxError(f"the fork server did not start: {self._server.last_words()}")
        self.isolation = describe_isolation(json.loads(data)["ready"])

    def run(self, submissions: Iterable[tuple[Hashable, str | Path, Sequence[Path]]]
            ) -> Iterator[tuple[Hashable, RunResult]]:
        """Run every ``(key, path, siblings)``; yields ``(key, RunResult)`` in the order they finish.
        ``siblings``: ``.py`` files beside the submission's file in its own folder, which it may
        import by their names (never another submission's: the batch's folder gives none).

        The next workers start before a finished one's result is yielded, so that none of the
        ``jobs`` waits while the caller compares and records: there are twice as many slots
        (uids, as root) as workers at once, and a slot is used again only once the server has
        swept its last worker away."""
        pending = iter(submissions)
        exhausted = False
        slots = 2 * self.jobs
        free = list(range(slots))[::-1]
        running: dict[int, _Running] = {}
        by_pid: dict[int, _Running] = {}
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ, None)
        next_job = 0
        done: list[tuple[Hashable, RunResult]] = []
        try:
            while True:
                while free and len(running) < self.jobs and not exhausted:
                    try:
                        key, path, siblings = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    kind, source, early, notes, left_out = self._read(path, siblings)
                    torch = self.job.torch is not None and "torch" in source
                    if early is None and torch and not _torch.installed():
                        early = RunResult("error", TORCH_MISSING)
                    if early is not None:
                        done.append((key, dataclasses.replace(early, notes=notes, isolation=self.isolation)))
                        continue
                    slot = free.pop()
                    run = self._launch(key, Path(path).name, kind, source, slot, next_job, torch, bool(siblings))
                    run.notes, run.left_out = notes, left_out
                    running[next_job] = run
                    sel.register(run.sock, selectors.EVENT_READ, run)
                    next_job += 1
                if done:
                    away = time.monotonic()
                    yield from done
                    done.clear()
                    # The time the caller took (comparing, diagnosing) is not the workers':
                    # a frame that waited for the grader to read it is not late.
                    away = time.monotonic() - away
                    for other in running.values():
                        other.deadline += away
                    continue
                if exhausted and not running and len(free) == slots:
                    return
                now = time.monotonic()
                deadlines = [r.deadline for r in running.values() if not r.finished]
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                for sel_key, _ in sel.select(timeout):
                    if sel_key.data is None:
                        self._control(running, by_pid, free)
                    else:
                        self._drain(sel_key.data)
                        if sel_key.data.closed:
                            sel.unregister(sel_key.data.sock)
                now = time.monotonic()
                for run in list(running.values()):
                    if not run.finished and now > run.deadline:
                        run.finished = "timeout"
                    if run.finished and run.pid is not None:
                        if not run.closed:
                            sel.unregister(run.sock)
                        del running[run.job]
                        by_pid.pop(run.pid, None)
                        send_message(self._sock, {"op": "sweep", "slot": run.slot, "pid": run.pid})
                        result = _left_out(self._result(run, now), run.left_out)
                        done.append((run.key, dataclasses.replace(result, notes=run.notes + result.notes)))
                        _close(run)
        finally:
            sel.close()
            for run in running.values():
                _close(run)

    def _read(self, path: str | Path, siblings: Sequence[Path] = ()
              ) -> tuple[str, str, RunResult | None, tuple[str, ...], Mapping[str, str]]:
        """What the worker runs: its kind (``"file"``, ``"notebook"``, ``"package"``) and source
        (for a notebook, or a .py that Jupyter exported, its :class:`~bpgrade.notebooks.Program`;
        for a package, its files; with ``siblings``, ``{"source": ..., "siblings": {name: text}}``),
        or the result that stops it before it runs; the notes on what of it runs; and where each
        name of a notebook's left-out lines is bound."""
        notes: tuple[str, ...] = ()
        left_out: Mapping[str, str] = {}
        limit, kind = self.job.limits.source, "file"
        reading = {"run_all": self.job.run_all_cells, "functions": list(self.job.needed), "provided": self.job.provided,
                   "exercise": self.job.exercise}
        try:
            program = None
            if self.job.module and is_package(Path(path)):
                files = read_package(Path(path), self.job.module, limit)
                kind, source, static = "package", json.dumps({"files": files}), "\n".join(files.values())
            elif Path(path).suffix == ".ipynb":
                program = read_notebook(path, max_code=limit, **reading)
            else:
                source = static = read_source(path, limit)
                exported = exported_notebook(source)
                if exported is not None:
                    program = parse_notebook(exported, **reading)
            if program is not None:
                kind, source, static = "notebook", program.to_json(), program.source()
                notes, left_out = program.notes, program.left_out
            if siblings:
                beside = _read_siblings(Path(path), siblings, limit - len(static.encode()))
                source = json.dumps({"source": source, "siblings": beside})
                static = "\n".join([static, *beside.values()])
            used = forbidden_imports(static, self.job.forbidden)
        except SubmissionError as e:
            return kind, "", RunResult("error", clean(str(e))), notes, left_out
        except (SyntaxError, ValueError):
            used = []  # the worker's compile reports it, with the line
        if used:
            return kind, "", RunResult("forbidden", forbidden_message(used)), notes, left_out
        return kind, source, None, notes, left_out

    def _launch(self, key: Hashable, name: str, kind: str, source: str, slot: int, job: int,
                torch: bool = False, siblings: bool = False) -> _Running:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _RESULT_BUFFER)
        ours.setblocking(False)
        output = os.memfd_create("output", os.MFD_CLOEXEC)
        message = {"op": "run", "job": job, "slot": slot, "name": name, "kind": kind, "torch": torch,
                   "imports": _imports.named(source), "siblings": siblings}
        # The source travels in the message; one that does not fit, in a memory file.
        inline = json.dumps({**message, "source": source})
        code = None
        try:
            if len(inline) <= _worker.MAX_MESSAGE:
                socket.send_fds(self._sock, [inline.encode()], [theirs.fileno(), output])
            else:
                code = os.memfd_create("submission", os.MFD_CLOEXEC)
                _write_all(code, source.encode())
                send_message(self._sock, message, [theirs.fileno(), code, output])
        except OSError as e:
            ours.close()
            os.close(output)
            raise SandboxError(f"the fork server is gone ({e})") from None
        finally:
            theirs.close()
            if code is not None:
                os.close(code)
        now = time.monotonic()
        # Until the server says it forked the worker (it may first load torch, seconds under load), the
        # deadline allows for that; then it is the wall-clock limit from the fork.
        return _Running(key, slot, job, ours, output, now, now + self.job.limits.wall + _START_TIMEOUT)

    def _control(self, running: dict[int, _Running], by_pid: dict[int, _Running], free: list[int]) -> None:
        data = self._sock.recv(1 << 16)
        if not data:
            raise SandboxError(f"the fork server ended unexpectedly: {self._server.last_words()}")
        msg = json.loads(data)
        if "pid" in msg:
            run = running[msg["job"]]
            run.pid = msg["pid"]
            by_pid[run.pid] = run
            # Its time starts now that it exists: the server may first have loaded torch for it.
            run.started = time.monotonic()
            run.deadline = run.started + self.job.limits.wall
        elif "exit" in msg:
            run = by_pid.get(msg["exit"])
            if run is not None and not run.finished:
                run.status = msg["status"]
                if not run.closed:
                    self._drain(run, whole=True)
                run.finished = run.finished or "exit"
        elif "swept" in msg:
            free.append(msg["swept"])

    def _drain(self, run: _Running, whole: bool = False) -> None:
        """Read what the worker has sent (a turn's worth, or ``whole``: all of it, as it has
        ended); mark the run finished at its last frame or at a frame that cannot be read, and
        closed at EOF (it is finished when its exit status comes)."""
        budget = _READ_TURN
        while not run.finished and not run.closed and (whole or budget > 0):
            try:
                chunk = run.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                run.closed = True
                return
            budget -= len(chunk)
            try:
                if run.reader.feed(chunk):
                    self._frame(run)
            except WireError:
                run.finished = "unreadable"

    def _frame(self, run: _Running) -> None:
        """A whole frame has come: the last one, or the public cases', after which the hidden
        cases' inputs are passed to the worker."""
        header, arrays, rest = run.reader.take()
        run.frames.append((header, arrays))
        imported = isinstance(header, dict) and not header.get("import_error")
        if not self.job.hidden or len(run.frames) > 1 or not imported:
            run.finished = "frame"
            return
        # What it printed from now on may hold the hidden cases: only what came before is shown.
        run.output = self._output(run)
        try:
            socket.send_fds(run.sock, [b"h"], [self._hidden])
        except OSError:
            return  # the worker is gone: its exit status says how
        run.reader = FrameReader()
        if rest and run.reader.feed(rest):
            self._frame(run)

    def _output(self, run: _Running) -> str:
        limit = self.job.limits.output
        data = os.pread(run.output_fd, limit + 1, 0)
        text = clean(data[:limit].decode("utf-8", "replace"))
        return text + "\n[... output cut]" if len(data) > limit else text

    def _result(self, run: _Running, now: float) -> RunResult:
        seconds = now - run.started
        output = run.output if run.output is not None else self._output(run)
        limits = self.job.limits

        def result(status: str, message: str) -> RunResult:
            return RunResult(status, message, output=output, seconds=seconds, isolation=self.isolation)

        if run.finished == "timeout":
            return result("timeout", f"stopped after the time limit of {limits.wall:g} s")
        if run.finished == "unreadable":
            return result("error", "sent back results that bpgrade cannot read")
        if run.finished == "frame":
            return result_from_frames(run.frames, self.job, output, seconds, self.isolation)
        status, message = _death(run.status, limits.cpu)
        if run.frames and status != "timeout":
            # How a process ends is the submission's choice: in the hidden cases it may say nothing.
            message = "the submission ended its process in the hidden cases before it returned results"
        return result(status, message)


def _case_frame(cases) -> tuple[list, list[np.ndarray]]:
    """Cases as the wire carries them: each case's inputs and params with every
    array replaced by its index in the list of arrays, which travel raw."""
    arrays: list[np.ndarray] = []

    def index(tree):
        if tree is None:
            return None
        if isinstance(tree, np.ndarray):
            arrays.append(tree)
            return len(arrays) - 1
        if isinstance(tree, dict):
            return {k: index(v) for k, v in tree.items()}
        return [index(v) for v in tree]

    return [{"inputs": index(list(inputs)), "params": index(params)} for inputs, params in cases], arrays


_UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined")


def _left_out(result: RunResult, left_out: Mapping[str, str]) -> RunResult:
    """``result`` with each NameError that names what a notebook's left-out line defines
    saying where, and how to run it."""
    def said(text: str) -> str:
        match = _UNDEFINED.search(text)
        if not match or match[1] not in left_out:
            return text
        return (text[:match.end()] + f" here: {left_out[match[1]]}, which defines it, was left out (--run-all runs "
                "every code cell)" + text[match.end():])

    if not left_out:
        return result
    targets = {name: dataclasses.replace(run, error=said(run.error)) if run.error_kind == "NameError" else run
               for name, run in result.targets.items()}
    return dataclasses.replace(result, message=said(result.message), targets=targets)


def _close(run: _Running) -> None:
    run.sock.close()
    os.close(run.output_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _death(status: int | None, cpu: float) -> tuple[str, str]:
    """The status and message of a worker that sent no result frame, from its wait status."""
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "timeout", f"used up its CPU time limit of {cpu:g} s"
        return "error", f"the submission's process was killed by {signal.Signals(sig).name}"
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "unknown"
    return "error", f"the submission ended its process (exit code {code}) before it returned results"


def run_file(path: str | Path, job: Job, siblings: Sequence[Path] = (), server: Server | None = None) -> RunResult:
    """Run one submission file (with the .py files beside it that it may import) in a sandbox of its own
    (on ``server``, started earlier, which it closes)."""
    with Sandbox(job, server=server) as sandbox:
        return next(sandbox.run([(0, path, siblings)]))[1]


def _read_siblings(path: Path, siblings: Sequence[Path], limit: int) -> dict[str, str]:
    """The .py files beside a submission's file, ``{"alice/utils.py": text}`` (named with their folder, so
    that an error in one names the file), within what is left of its size limit.

    Raises:
      SubmissionError: one cannot be read or decoded, or they hold too much code.
    """
    found, size = {}, 0
    for sibling in siblings:
        text = read_source(sibling, max(limit - size, 0))
        size += len(text.encode())
        found[f"{clean_name(path.parent.name)}/{clean_name(sibling.name)}"] = text
    return found
