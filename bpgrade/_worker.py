"""The fork server and its workers: where submission code runs.

The grader starts a fresh interpreter for each batch (``python -I -c
BOOTSTRAP``, see :mod:`bpgrade.forkserver`) that runs :func:`main`: it imports
NumPy and the standard modules a submission may use (while the grader reads
the truth), reads the batch's setup frame on stdin (the public cases' inputs,
the functions to call, the limits), imports the pack's allowed modules, confines
itself, and then serves requests on its control socket, a SOCK_SEQPACKET of
JSON messages:

  server -> grader  {"ready": {"landlock": ABI, "seccomp": bool, "without_seccomp": why, "uid": bool}}
  grader -> server  {"op": "run", "job": J, "slot": K, "name": "alice.py", "kind": "file", "torch": bool,
                     "imports": ["numpy.random"], "source": "..."}
                    + 2 descriptors: the result socket, the output; without "source" (more than a
                    message holds), 3: the result socket, a memory file of the source, the output
  server -> grader  {"job": J, "pid": P}               a worker was forked
  server -> grader  {"exit": P, "status": S}           a worker not yet swept ended (os.waitpid status)
  grader -> server  {"op": "sweep", "slot": K, "pid": P}
  server -> grader  {"swept": K}                       nothing of that worker is left

The server never holds the truth, nor the hidden cases' inputs. Each worker is
a fork of it that confines itself (:mod:`bpgrade._confine`,
:mod:`bpgrade._seccomp`), takes the submission's source from its run message
or a memory file (so that nothing of it lies in a folder another process could
reach), prints into a memory file (its output), runs the submission on the public cases and sends
back their result frame on its result socket. When the batch has hidden
cases, the grader then passes it the memory file that holds their inputs, and
it sends back a second frame: nothing the submission did before it saw them
can carry them, and what it does after is shown only as numbers and counts.

This module imports nothing but NumPy and the standard library.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import json
import linecache
import os
import select
import signal
import socket
import sys
import time
import types
from typing import Any, Callable, Mapping, Sequence

from . import _confine, _imports, _oldnumpy, _seccomp, _torch
from ._calls import build, call_targets, describe_exception, out_of_memory
from ._harness import Exercise, Student, by_name, compile_code, harness_functions
from ._standins import NOTEBOOK_NAMES, DisplayOnly
from ._wire import INT_DTYPE, WIRE_DTYPE, decode, encode, send_message

#: The descriptor a worker sends its result frames on (and receives the hidden cases on).
RESULT_FD = 3
#: The largest control message: a run message may carry its source.
MAX_MESSAGE = 1 << 16
#: The largest setup or hidden-cases frame the grader sends.
MAX_SETUP_HEADER = 64 << 20

_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
_HIGH_FD = 100


def main(control_fd: int) -> None:
    """Run the fork server until the grader closes the control socket (or dies).

    Whichever way it ends, every worker it started is killed and reaped on the way out.
    """
    # Imported before the setup comes: the grader reads the truth meanwhile.
    for name in _imports.PRELOAD:
        importlib.import_module(name)
    setup, arrays = decode(sys.stdin.buffer.read(), MAX_SETUP_HEADER, (WIRE_DTYPE, INT_DTYPE))
    for name in setup["allowed"]:
        importlib.import_module(name)
    # The pack's own code (its modules, its harness) runs in every worker.
    pack_code = [*setup["modules"].values(), (setup["harness"] or {}).get("source", "")]
    _import_on_demand(_imports.named("\n".join(pack_code)))
    _oldnumpy.install()
    harness = harness_functions(setup["harness"])
    if setup["torch"] == "tensors":
        # The pack gives its arguments as tensors: torch is needed by every worker.
        _torch.prepare()
    cases = _cases(setup, setup["cases"], arrays)
    # What a worker's environment holds, set once here rather than in each worker: the thread
    # counts that the server was started with (bpgrade.forkserver.ONE_THREAD), and nothing else of it.
    threads = {name: value for name, value in os.environ.items() if name.endswith("_NUM_THREADS")}
    os.environ.clear()
    os.environ.update({"HOME": setup["scratch"], "TMPDIR": setup["scratch"], "LANG": "C.UTF-8",
                       "PATH": "/usr/bin:/bin", **threads})
    sock = socket.socket(fileno=control_fd)
    lib = _confine.libc()
    abi = _confine.landlock_abi()
    ruleset = None
    if abi:
        # Far above the descriptors a worker is passed and moves about.
        readable = [*setup["allowed"], *(["torch"] if setup["torch"] else [])]
        created = _confine.landlock_ruleset([*_confine.readable_paths(readable), setup["scratch"]], abi)
        ruleset = fcntl.fcntl(created, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
        os.close(created)
    # No process may read this one's memory or its workers' (/proc/PID/mem, environ) under the same uid.
    lib.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    # Orphans become the server's children, so that it reaps them: zombies left to an
    # init that never reaps would count against a uid's process limit.
    lib.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    worker_filter, without = None, "x86-64 only"
    if _seccomp.available():
        try:
            _seccomp.server_filter().install()
            worker_filter = _seccomp.worker_filter()
        except OSError as e:  # a kernel without seccomp filters, or a container that forbids them
            without = f"the kernel refused it: {e.strerror}"
    # Objects that exist now are never collected in a worker: a collection that
    # walked them would copy every page they live on into each forked worker.
    gc.freeze()
    send_message(sock, {"ready": {"landlock": abi, "seccomp": worker_filter is not None, "without_seccomp": without,
                                  "uid": setup["root"]}})
    unswept: set[int] = set()  # workers until the grader has asked for their sweep
    try:
        while True:
            ready, _, _ = select.select([sock], [], [], 0.05)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid in unswept:
                    # Only the grader's question is left (a swept worker's end, which comes with
                    # every result, is no news): its status says how it ended.
                    send_message(sock, {"exit": pid, "status": status})
            if not ready:
                continue
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            if not data:
                return
            msg = json.loads(data)
            slot = int(msg["slot"])
            if msg["op"] == "run":
                uid = setup["uid_base"] + slot if setup["root"] else None
                if msg.get("torch"):
                    # Imported once, by the first submission that uses it: NumPy ones never pay for it.
                    _torch.prepare()
                _import_on_demand(msg.get("imports", ()))
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _worker(setup, cases, harness, msg, fds, uid, ruleset, worker_filter)
                for fd in fds:
                    os.close(fd)
                unswept.add(pid)
                send_message(sock, {"job": msg["job"], "pid": pid})
            elif msg["op"] == "sweep":
                _sweep(int(msg["pid"]))
                unswept.discard(int(msg["pid"]))
                send_message(sock, {"swept": slot})
    except (BrokenPipeError, ConnectionError):
        pass  # the grader is gone
    finally:
        for pid in unswept:
            _sweep(pid)
        _reap_all(deadline=time.monotonic() + 1.0)


def _import_on_demand(names: Sequence[str]) -> None:
    """Import these of the :data:`~bpgrade._imports.ON_DEMAND` modules, once: for the next worker and
    every later one."""
    for name in names:
        if name in _imports.ON_DEMAND and name not in sys.modules:
            importlib.import_module(name)
            # As at the start: what the import made is never walked by a worker's collection.
            gc.freeze()


def _reap_all(deadline: float) -> None:
    """Wait for every child (killed workers and their orphans) until none is left or time is up."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def _sweep(pid: int) -> None:
    """Kill the worker's process group: the worker, which may create no other process."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _worker(setup: dict, cases, harness: Mapping[str, Callable] | None, msg: Mapping[str, Any], fds: Sequence[int],
            uid: int | None, ruleset: int | None, worker_filter: _seccomp.Filter | None) -> None:
    """The forked worker: confine, run the submission of the run message ``msg``, send its result frames, exit."""
    try:
        if "source" in msg:
            (result, output), source = fds, msg["source"]
        else:
            result, source_fd, output = fds
            source = _whole(source_fd).decode()
            os.close(source_fd)
        os.setsid()
        os.chdir(setup["scratch"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        # Nothing needed lies at RESULT_FD now: not the source, the output or null (moved or
        # closed), nor the ruleset (kept high by the server).
        if result != RESULT_FD:
            os.dup2(result, RESULT_FD)
        limits = dict(setup["limits"])
        if "torch" in sys.modules:
            # Torch's own mappings (about 500 MB of address space) do not count against the submission.
            limits["memory"] += _confine.address_space()
        _confine.limit(limits)
        if uid is not None:
            _confine.drop_uid(uid)
        if ruleset is not None:
            _confine.landlock_restrict(ruleset)
        # Nothing of the server's stays open: not its control socket, not the ruleset, not the source.
        os.closerange(RESULT_FD + 1, 1 << 30)
        if worker_filter is not None:
            worker_filter.install()
        channel = socket.socket(fileno=RESULT_FD)
        siblings = None
        if msg.get("siblings"):
            wrapped = json.loads(source)
            source, siblings = wrapped["source"], wrapped["siblings"]
        run_submission(source, msg["name"], msg["kind"], setup, cases, channel, harness, siblings)
    finally:
        os._exit(0)


def run_submission(source: str, filename: str, kind: str, setup: Mapping[str, Any], cases, channel: socket.socket,
                   harness: Mapping[str, Callable] | None = None, siblings: Mapping[str, str] | None = None) -> None:
    """Import ``source`` as a module, call its graded functions on ``cases`` and send
    the result frame on ``channel``; then, when the setup has hidden cases and it
    imported, receive their inputs on ``channel`` and send a second frame.

    Each function may take an equal share of the wall-clock limit in each
    phase (one share is left for the import): an endless one fails alone.
    With a pack's ``harness``, its functions are what is called, each with a
    :class:`Student` first and the case's arguments by name.

    For a ``"notebook"`` (``kind``), ``source`` is the JSON of
    :class:`bpgrade.notebooks.Program`: its cells run one after the other in one
    module, each under the file name ``cell N``; its exercise, if any, is compiled
    then, and run by the harness on each case (:class:`~bpgrade._harness.Exercise`). For a ``"package"``,
    ``source`` is the JSON of its files, and the setup's ``module`` is
    imported from them. A ``"file"``'s source is Python. ``siblings``: the
    ``.py`` files beside the submission's file (``{"alice/utils.py": text}``),
    importable by their names.
    """
    functions, nested, hidden = setup["functions"], setup["nested"], setup["hidden"]
    package = json.loads(source)["files"] if kind == "package" else None
    blocker = _imports.install(setup["forbidden"], setup["modules"], package, setup["display_only"],
                               setup["allowed"], siblings)
    header: dict[str, Any] = {"import_error": None, "memory": False}
    module = types.ModuleType("submission")
    module.__file__ = filename
    # What Jupyter defines, for a notebook and for the .py it exports to (its magics call get_ipython()).
    module.__dict__.update({name: DisplayOnly() for name in NOTEBOOK_NAMES})
    deferred, exercise = None, None
    if kind == "notebook":
        program = json.loads(source)
        chunks = [(f"cell {number}", code) for number, code in program["cells"]]
        deferred = program.get("exercise")
    elif package is not None:
        chunks = list(package.items())
    else:
        chunks = [(filename, source)]
    if package is None:
        sys.modules["submission"] = module
    later = [(f"cell {number}", code) for number, code in deferred["cells"]] if deferred else []
    later += list((siblings or {}).items())
    for name, code in chunks + later:
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    files = {name for name, _ in chunks + later}
    try:
        if package is not None:
            module = importlib.import_module(setup["module"])
        for name, code in chunks if package is None else ():
            exec(compile_code(code, name), module.__dict__)
        if deferred:
            # Compiled now, run by the harness on each case (Student.run_exercise).
            exercise = Exercise(deferred["cells"], deferred["steps"], deferred["assigns"])
    except BaseException as e:  # noqa: BLE001 - a submission may raise anything while importing
        header["import_error"] = describe_exception(e, files)
        header["memory"] = out_of_memory(e)
    groups = setup["harness"]["groups"] if harness is not None else None
    if harness is not None:
        student = Student(module.__dict__, exercise)
        found = {group: by_name(fn, student, setup["harness"]["arguments"]) for group, fn in harness.items()}
    else:
        found = {name: module.__dict__.get(function) for name, function in functions.items()}
        found = {name: fn if callable(fn) else None for name, fn in found.items()}
    share = setup["limits"]["wall"] / (len(found) * (2 if hidden else 1) + 1)
    calls, outputs = (call_targets(found, cases, nested, share, files, groups) if header["import_error"] is None
                      else ({"targets": {}}, []))
    header.update(calls, forbidden=sorted(set(blocker.attempts)), old_numpy=_oldnumpy.USED, autograd=_torch.USED)
    _send(channel, encode(header, outputs))
    if not hidden or header["import_error"] is not None:
        return
    _, fds, _, _ = socket.recv_fds(channel, 1, 1)
    if not fds:
        return
    hidden_setup, arrays = decode(_whole(fds[0]), MAX_SETUP_HEADER, (WIRE_DTYPE, INT_DTYPE))
    os.close(fds[0])
    hidden_cases = _cases(setup, hidden_setup["cases"], arrays)
    # A function that failed on a public case is not called again.
    if groups is None:
        again = {name: None if record["missing"] or record["error"] else found[name]
                 for name, record in calls["targets"].items()}
    else:
        again, regrouped = {}, {}
        for group, members in groups.items():
            records = calls["targets"]
            ok = [(t, key) for t, key in members if not (records[t]["missing"] or records[t]["error"])]
            regrouped[group], again[group] = ok, found[group] if ok else None
            if len(ok) < len(members):
                # A group of its own, with no function: its targets are not called again.
                regrouped[f"{group} (failed)"] = [(t, key) for t, key in members if (t, key) not in ok]
        groups = regrouped
    calls, outputs = call_targets(again, hidden_cases, nested, share, files, groups)
    _send(channel, encode({**calls, "forbidden": sorted(set(blocker.attempts)), "old_numpy": _oldnumpy.USED,
                           "autograd": _torch.USED}, outputs))


def _cases(setup: Mapping[str, Any], wire: Sequence[Mapping], arrays: Sequence[Any]) -> list:
    """The cases of a frame, ``(inputs, params)`` each, as the pack gives them: arrays, or tensors."""
    cases = [(build(case["inputs"], arrays), build(case["params"], arrays)) for case in wire]
    if setup["torch"] == "tensors":
        cases = [(_torch.tensors(inputs), _torch.tensors(params)) for inputs, params in cases]
    return cases


def _whole(fd: int) -> bytes:
    """What a memory file the grader made holds (the source, the hidden cases)."""
    return os.pread(fd, os.fstat(fd).st_size, 0)


def _send(channel: socket.socket, frame: bytes) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    channel.sendall(frame)
