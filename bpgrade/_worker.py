"""The sandbox's side of running submissions: a fork server, its workers, and the wire.

This module imports nothing but NumPy and the standard library, and nothing of
the truth: the grader starts it as a script (``python -I _worker.py FD``),
sends it the cases' inputs, and reads back only plain float64 arrays, framed
as JSON metadata plus raw bytes. No pickle crosses in either direction.

Frame: 8 bytes little-endian header length, the JSON header, then the bytes of
every array listed in ``header["arrays"]`` (``{"dtype": "<f8", "shape": [...]}``)
back to back.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import importlib
import importlib.abc
import json
import linecache
import math
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import types
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

#: The only dtype that crosses the wire.
WIRE_DTYPE = "<f8"
#: No graded function may return more entries than this.
MAX_ELEMENTS = 1_000_000
#: No graded function may return more arrays than this.
MAX_LEAVES = 1000
#: Characters of an error message kept.
MAX_MESSAGE = 500


class WireError(ValueError):
    """A frame that does not follow the format."""


def encode(header: Mapping[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """One frame holding ``header`` (JSON-able) and ``arrays`` (float64)."""
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,), which
    # would hide a scalar returned where a (1,) vector is asked for.
    arrays = [np.asarray(a, dtype=np.float64, order="C") for a in arrays]
    head = json.dumps({**header, "arrays": [{"dtype": WIRE_DTYPE, "shape": list(a.shape)} for a in arrays]})
    head_bytes = head.encode()
    return struct.pack("<Q", len(head_bytes)) + head_bytes + b"".join(a.tobytes() for a in arrays)


def decode(frame: bytes, max_header: int = 1 << 20) -> tuple[dict, list[np.ndarray]]:
    """The header and arrays of a frame, checked byte for byte.

    Raises:
      WireError: a truncated or oversized frame, a dtype other than float64, a
        bad shape, or bytes left over.
    """
    if len(frame) < 8:
        raise WireError("truncated frame")
    (size,) = struct.unpack("<Q", frame[:8])
    if size > max_header or 8 + size > len(frame):
        raise WireError("bad header length")
    try:
        header = json.loads(frame[8:8 + size])
    except (ValueError, UnicodeDecodeError):
        raise WireError("header is not JSON") from None
    metas = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(metas, list):
        raise WireError("header lists no arrays")
    shapes = []
    for meta in metas:
        shape = meta.get("shape") if isinstance(meta, dict) else None
        if (meta.get("dtype") if isinstance(meta, dict) else None) != WIRE_DTYPE or not isinstance(shape, list) \
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ELEMENTS for n in shape):
            raise WireError(f"bad array description {meta!r}"[:200])
        if math.prod(shape) > MAX_ELEMENTS:
            raise WireError("array larger than allowed")
        shapes.append(tuple(shape))
    counts = [math.prod(s) for s in shapes]
    if 8 + size + 8 * sum(counts) != len(frame):
        raise WireError("the arrays do not fill the frame exactly")
    # One read-only buffer for all arrays; each array is a view of it.
    flat = np.frombuffer(frame, np.float64, sum(counts), 8 + size)
    ends = np.cumsum(counts)
    arrays = [flat[end - n:end].reshape(shape) for n, end, shape in zip(counts, ends, shapes)]
    return header, arrays


def frame_length(prefix: bytes | bytearray) -> int | None:
    """The length of the frame that ``prefix`` starts, once its header has arrived
    (None before that, or when the header is malformed: :func:`decode` says why)."""
    if len(prefix) < 8:
        return None
    (size,) = struct.unpack_from("<Q", prefix)
    if 8 + size > len(prefix):
        return None
    try:
        metas = json.loads(bytes(prefix[8:8 + size]))["arrays"]
        return 8 + size + sum(8 * math.prod(m["shape"]) for m in metas)
    except (ValueError, KeyError, TypeError):
        return None


class ReturnError(Exception):
    """A graded function returned something that is not an array of numbers."""


def to_array(value: Any) -> tuple[np.ndarray, str]:
    """``value`` as a plain float64 ndarray, and the dtype it came in."""
    if type(value) is np.ndarray and value.dtype.char == "d":
        # The common case, without a dtype conversion or a name lookup. Still a
        # copy: a function may return the same buffer on every call.
        if value.size > MAX_ELEMENTS:
            raise ReturnError(f"returned {value.size} numbers, more than any gradient here holds")
        return value.copy(), "float64"
    if value is None:
        raise ReturnError("returned None (is a `return` missing?)")
    try:
        arr = np.asarray(value)
    except Exception:
        raise ReturnError(f"returned a {type(value).__name__}, not an array of numbers") from None
    if arr.dtype.kind not in "biuf":
        raise ReturnError(f"returned an array of {arr.dtype}, not of real numbers")
    if arr.size > MAX_ELEMENTS:
        raise ReturnError(f"returned {arr.size} numbers, more than any gradient here holds")
    return np.array(arr, dtype=np.float64), str(arr.dtype)


def describe_exception(exc: BaseException, filenames: Collection[str | None]) -> str:
    """``"ZeroDivisionError: division by zero (line 12: `return 1 / 0`)"``, or
    ``(cell 7, line 3: ...)`` in a notebook.

    The line quoted is the last one of the traceback that lies in one of
    ``filenames`` (the submission's), so that the student sees their own code.
    """
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, SyntaxError) and exc.filename in filenames and exc.lineno:
        return (text + _where(exc.filename, exc.lineno, exc.text))[:MAX_MESSAGE]
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames]
    if frames:
        text += _where(frames[-1].filename, frames[-1].lineno, frames[-1].line)
    return text[:MAX_MESSAGE]


def _where(filename: str, lineno: int, line: str | None) -> str:
    # A notebook's cells run as "cell 7"; a .py file's name ends with .py.
    at = f"{filename}, line {lineno}" if filename[5:].isdigit() and filename.startswith("cell ") else f"line {lineno}"
    line = (line or "").strip()
    return f" ({at}: `{line}`)" if line else f" ({at})"


#: The name a notebook's display-only imports are bound to (bpgrade.notebooks writes it).
DISPLAY_STUB = "__bpgrade_display__"
#: What a notebook's cells find defined without an import, as in Jupyter: each a DisplayOnly.
NOTEBOOK_NAMES = ("display", "get_ipython", DISPLAY_STUB)


class DisplayOnly:
    """What a display-only module (matplotlib, tqdm, ...) of a notebook is: anything
    done with it does nothing. Called on one iterable (``tqdm(range(9))``) it
    gives the iterable back; unpacked (``fig, ax = plt.subplots()``) it gives two
    of itself."""

    def __getattr__(self, name: str) -> "DisplayOnly":
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and hasattr(args[0], "__iter__") and not isinstance(args[0], (str, bytes)):
            return args[0]
        return self

    def __getitem__(self, key: Any) -> "DisplayOnly":
        return self

    def __iter__(self):
        return iter((self, self))

    def __enter__(self) -> "DisplayOnly":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False


def _holds_arrays(item: list | tuple) -> bool:
    """Whether a list holds arrays or dicts, at any depth (else it is itself an array, written as lists)."""
    stack = [item]
    while stack:
        for element in stack.pop():
            if isinstance(element, (np.ndarray, dict)):
                return True
            if isinstance(element, (list, tuple)):
                stack.append(element)
    return False


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """The leaves of a nest of lists, tuples and dicts (string keys, sorted),
    each with its path: ``[("[0].b", ...), ("[0].w", ...), ...]``. A list of
    numbers (or of lists of numbers) is a leaf, as is anything that is not a
    list, tuple or dict. A bare leaf has the path ``""``.

    Raises:
      ReturnError: more than MAX_LEAVES leaves, or a dict key that is not a string.
    """
    found: list[tuple[str, Any]] = []
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, (list, tuple)) and _holds_arrays(item):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise ReturnError("returned a dict whose keys are not all strings")
            stack.extend((f"{where}.{k}", item[k]) for k in sorted(item, reverse=True))
        else:
            found.append((where, item))
        if len(found) + len(stack) > MAX_LEAVES:
            raise ReturnError(f"returned more than {MAX_LEAVES} arrays")
    return found


def _copy(tree: Any) -> Any:
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    return [_copy(v) for v in tree]


def call_targets(functions: Mapping[str, Callable | None], cases: Sequence[tuple[Sequence[Any], Mapping]],
                 nested: Collection[str] = ()) -> tuple[dict, list[np.ndarray]]:
    """Call every graded function on every case.

    Args:
      functions: target name to the submission's function (None when missing).
      cases: per case, the positional inputs and the params dict (arrays, or
        nests of lists and dicts of arrays); params None: no params argument.
      nested: the targets whose gradient is a nest of arrays (a list of
        layers); the others are one array each.

    Returns:
      A header ``{"targets": {name: {"missing", "error", "error_case", "memory",
      "outputs": [per case, [[path, array index, dtype], ...]]}}}`` and the
      arrays it indexes. A nested target's function returns a nest of arrays
      (:func:`leaves`), any other an array. A function that raises, or returns what is not made of
      arrays of numbers, is not called again on later cases.
    """
    targets, arrays = {}, []
    for name, fn in functions.items():
        record = {"missing": fn is None, "error": None, "error_case": None, "memory": False, "outputs": []}
        targets[name] = record
        if fn is None:
            continue
        filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
        for index, (inputs, params) in enumerate(cases):
            # Fresh copies: a function that changes its arguments in place
            # must not change what the next function sees.
            args = [_copy(a) for a in inputs] + ([] if params is None else [_copy(params)])
            try:
                returned = fn(*args)
                if name not in nested:
                    out, dtype = to_array(returned)
                    case_leaves = [["", len(arrays), dtype]]
                    arrays.append(out)
                else:
                    case_leaves = []
                    for path, leaf in leaves(returned):
                        out, dtype = to_array(leaf)
                        case_leaves.append([path, len(arrays), dtype])
                        arrays.append(out)
            except ReturnError as e:
                record["error"], record["error_case"] = f"{name}: {e}", index
            except BaseException as e:  # noqa: BLE001 - student code may raise anything, SystemExit included
                record["error"], record["error_case"] = describe_exception(e, {filename}), index
                record["memory"] = isinstance(e, MemoryError)
            else:
                record["outputs"].append(case_leaves)
                continue
            break
    return {"targets": targets}, arrays


def build(structure: Any, arrays: Sequence[np.ndarray]) -> Any:
    """A nest of lists and dicts whose ints index ``arrays``, with the arrays put in."""
    if structure is None:
        return None
    if isinstance(structure, int):
        return arrays[structure]
    if isinstance(structure, dict):
        return {k: build(v, arrays) for k, v in structure.items()}
    return [build(v, arrays) for v in structure]


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses the import of the pack's forbidden modules and remembers who asked."""

    def __init__(self, names: Sequence[str]):
        self.names = frozenset(names)
        self.attempts: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.names:
            self.attempts.append(top)
            raise ImportError(f"{top} is not allowed here: the gradients must be derived by hand, "
                              "without automatic differentiation")
        return None


# --- The fork server ------------------------------------------------------------------------
#
# The grader starts this file as a script: ``python -I _worker.py CONTROL_FD``. It reads the
# batch's setup frame (the cases' inputs, the functions to call, the limits) on stdin, then
# serves requests on the control socket, a SOCK_SEQPACKET of JSON messages:
#
#   grader -> server  {"op": "run", "job": J, "slot": K, "name": "alice.py"} + the result pipe's fd
#   server -> grader  {"job": J, "pid": P}               a worker was forked
#   server -> grader  {"exit": P, "status": S}           a worker ended (os.waitpid status)
#   grader -> server  {"op": "sweep", "slot": K, "pid": P}
#   server -> grader  {"swept": K}                       nothing of that worker is left
#
# Each worker is a fork of this process, which has imported NumPy and never held any truth.
# Before it runs submission code it starts a session, takes its limits, drops to the slot's
# own uid when the server runs as root, and confines itself with Landlock where the kernel
# has it: it may read the standard library and NumPy, and read and write its scratch folder,
# nothing else; it may not signal processes outside its sandbox nor open TCP connections.

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER = 38, 36
_FS_EXECUTE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}  # how many access bits each ABI knows


#: What a submission may import besides NumPy: imported by the server before it forks, because
#: a worker under its own uid may not be able to read the interpreter's files (under /root, say).
PRELOAD = ("numpy.linalg", "numpy.random", "numpy.fft", "numpy.testing", "math", "cmath", "itertools",
           "functools", "collections", "operator", "typing", "dataclasses", "copy", "numbers", "fractions",
           "decimal", "statistics", "random", "re", "string", "time", "warnings", "contextlib", "enum", "abc")


class Unavailable(importlib.abc.MetaPathFinder):
    """The last finder: names what a submission may import when it asks for anything else."""

    def find_spec(self, fullname, path=None, target=None):
        raise ModuleNotFoundError(f"No module named {fullname!r} here: a submission may import numpy and "
                                  f"these standard modules: {', '.join(m for m in PRELOAD if '.' not in m)}",
                                  name=fullname)


@functools.lru_cache(maxsize=None)
def _libc() -> ctypes.CDLL:
    # Loaded once in the server: a worker that loaded it anew would copy more pages after its fork.
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when there is none (or not on x86-64 Linux)."""
    if not sys.platform.startswith("linux") or os.uname().machine != "x86_64":
        return 0
    libc = _libc()
    abi = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_ruleset(readable: Sequence[str], writable: str, abi: int) -> int:
    """A Landlock ruleset that allows reading ``readable`` and everything in ``writable``.

    Returns:
      The ruleset's file descriptor, for :func:`landlock_restrict`.
    """
    libc = _libc()
    all_fs = (1 << _FS_BITS_BY_ABI.get(abi, 16)) - 1
    attr = (ctypes.c_uint64 * 3)(all_fs, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")

    def allow(path: str, access: int) -> None:
        try:
            parent = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(path):  # a rule on a file takes only file rights
                access &= _FS_EXECUTE | _FS_READ_FILE
            rule = _PathBeneath(access, parent)
            if libc.syscall(_SYS_ADD_RULE, fd, 1, ctypes.byref(rule), 0) != 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
        finally:
            os.close(parent)

    for path in readable:
        allow(path, _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR)
    allow(writable, all_fs)
    return fd


def landlock_restrict(ruleset_fd: int) -> None:
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")


def readable_paths() -> list[str]:
    """What a worker may read: the standard library (without its site-packages) and NumPy."""
    import sysconfig

    paths = []
    for key in ("stdlib", "platstdlib"):
        stdlib = sysconfig.get_paths()[key]
        for entry in sorted(os.listdir(stdlib)):
            if entry not in ("site-packages", "dist-packages") and os.path.join(stdlib, entry) not in paths:
                paths.append(os.path.join(stdlib, entry))
    numpy_dir = os.path.dirname(np.__file__)
    paths.append(numpy_dir)
    if os.path.isdir(numpy_dir + ".libs"):
        paths.append(numpy_dir + ".libs")
    return paths


def send_message(sock: socket.socket, message: dict, fds: Sequence[int] = ()) -> None:
    """One JSON message on the control socket, with file descriptors passed alongside."""
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def serve(control_fd: int) -> None:
    """Run the fork server until the grader closes the control socket (or dies).

    Whichever way it ends, every worker it started is killed (with every
    process of its uid, where workers may have more than one) and reaped on
    the way out.
    """
    setup, arrays = decode(sys.stdin.buffer.read(), max_header=64 << 20)
    for name in PRELOAD:
        importlib.import_module(name)
    _libc()
    cases = [(build(case["inputs"], arrays), build(case["params"], arrays)) for case in setup["cases"]]
    sock = socket.socket(fileno=control_fd)
    root = os.geteuid() == 0
    # A worker limited to one process under its own uid can leave none behind:
    # killing its process group is enough, and no uid-wide sweep is needed.
    sweep_uids = root and setup["limits"]["processes"] > 1
    abi = landlock_abi()
    readable = readable_paths() if abi else []
    rulesets: dict[int, int] = {}
    # Objects that exist now are never collected in a worker: a collection that
    # walked them would copy every page they live on into each forked worker.
    gc.freeze()
    # Orphans of the workers become the server's children, so that it reaps them:
    # zombies left to an init that never reaps would count against a uid's process limit.
    _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    workers: dict[int, int] = {}  # pid -> slot, until the worker has ended
    unswept: dict[int, int] = {}  # pid -> slot, until the grader has asked for its sweep
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
                if workers.pop(pid, None) is not None:
                    send_message(sock, {"exit": pid, "status": status})
            if not ready:
                continue
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
            if not data:
                return
            msg = json.loads(data)
            slot = int(msg["slot"])
            scratch = os.path.join(setup["scratch"], f"slot-{slot}")
            uid = setup["uid_base"] + slot if root else None
            if msg["op"] == "run":
                if abi and slot not in rulesets:
                    rulesets[slot] = landlock_ruleset(readable, scratch, abi)
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _worker(setup, cases, msg["name"], scratch, fds[0], uid, rulesets.get(slot))
                os.close(fds[0])
                workers[pid] = unswept[pid] = slot
                send_message(sock, {"job": msg["job"], "pid": pid})
            elif msg["op"] == "sweep":
                _sweep(int(msg["pid"]), uid if sweep_uids else None)
                unswept.pop(int(msg["pid"]), None)
                send_message(sock, {"swept": slot})
    except (BrokenPipeError, ConnectionError):
        pass  # the grader is gone
    finally:
        for pid, slot in unswept.items():
            _sweep(pid, setup["uid_base"] + slot if sweep_uids else None)
        _reap_all(deadline=time.monotonic() + 1.0)


def _reap_all(deadline: float) -> None:
    """Wait for every child (killed workers and their orphans) until none is left or time is up."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


_SYS_KILL, _SYS_SETRESUID = 62, 117


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid``, from a thread that alone takes that uid.

    Raw system calls change the credentials of the calling thread only (glibc's
    wrappers would change every thread's), so the server keeps its own, and no
    fork of the server is needed.
    """
    libc = _libc()
    if libc.syscall(_SYS_SETRESUID, uid, uid, uid) == 0:
        libc.syscall(_SYS_KILL, -1, signal.SIGKILL)


def _sweep(pid: int, uid: int | None) -> None:
    """Kill the worker's process group and, when it ran under its own uid, every process of that uid."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:
        killer = threading.Thread(target=_kill_uid, args=(uid,))
        killer.start()
        killer.join()


def _worker(setup: dict, cases, name: str, scratch: str, result_fd: int, uid: int | None,
            ruleset: int | None) -> None:
    """The forked worker: confine, run the submission, write the result frame, exit."""
    try:
        os.setsid()
        os.chdir(scratch)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        limits = setup["limits"]
        cpu = int(limits["cpu"])
        for res, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_AS, limits["memory"]),
                           (resource.RLIMIT_FSIZE, limits["file_size"]), (resource.RLIMIT_NOFILE, 64)):
            resource.setrlimit(res, (value, value))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if ruleset is not None:
            landlock_restrict(ruleset)
        os.environ.clear()
        os.environ.update({"HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"})
        with open("submission.py", encoding="utf-8") as f:
            source = f.read()
        frame = run_submission(source, name, setup["functions"], setup["forbidden"], cases, setup["nested"])
        sys.stdout.flush()
        sys.stderr.flush()
        view = memoryview(frame)
        while view:
            view = view[os.write(result_fd, view):]
    finally:
        os._exit(0)


def run_submission(source: str, filename: str, functions: Mapping[str, str], forbidden: Sequence[str],
                   cases, nested: Collection[str] = ()) -> bytes:
    """Import ``source`` as a module and call its graded functions; returns the result frame.

    For a notebook (``filename`` ends with ``.ipynb``), ``source`` is the JSON of
    :class:`bpgrade.notebooks.Program`: its cells run one after the other in one
    module, each under the file name ``cell N``.
    """
    blocker = ImportBlocker(forbidden)
    sys.meta_path.insert(0, blocker)
    sys.meta_path.append(Unavailable())
    header: dict[str, Any] = {"import_error": None, "memory": False}
    found: dict[str, Callable | None] = {name: None for name in functions}
    module = types.ModuleType("submission")
    module.__file__ = filename
    sys.modules["submission"] = module
    if filename.endswith(".ipynb"):
        chunks = [(f"cell {number}", code) for number, code in json.loads(source)["cells"]]
        module.__dict__.update({name: DisplayOnly() for name in NOTEBOOK_NAMES})
    else:
        chunks = [(filename, source)]
    for name, code in chunks:
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    try:
        for name, code in chunks:
            exec(compile(code, name, "exec"), module.__dict__)
    except BaseException as e:  # noqa: BLE001 - a submission may raise anything while importing
        header["import_error"] = describe_exception(e, {name for name, _ in chunks})
        header["memory"] = isinstance(e, MemoryError)
    else:
        for name, function_name in functions.items():
            fn = module.__dict__.get(function_name)
            found[name] = fn if callable(fn) else None
    calls, outputs = call_targets(found, cases, nested) if header["import_error"] is None else ({"targets": {}}, [])
    header.update(calls, forbidden=sorted(set(blocker.attempts)))
    return encode(header, outputs)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
