"""Calling a submission's graded functions on the cases, and reading what they return.

The fork server's workers call them here, and so does the grader for functions
that live in its own process (:func:`bpgrade.runner.run_functions`). Imports
nothing but NumPy and the standard library.
"""

from __future__ import annotations

import os
import signal
import traceback
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from . import _torch
from ._wire import MAX_ELEMENTS

#: No graded function may return more arrays than this.
MAX_LEAVES = 1000
#: Characters of an error message kept.
MAX_MESSAGE = 500
#: The error kind of a function that returned what is not made of arrays of numbers.
RETURN_KIND = "return"
#: The error kind of a function that ran past its share of the time limit.
TIMEOUT_KIND = "timeout"


class OutOfTime(BaseException):
    """Raised in a graded function that ran past its share of the time limit (a BaseException,
    so that an ``except Exception`` in the submission lets it through)."""


def _out_of_time(signum, frame) -> None:
    raise OutOfTime


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the address-space limit was hit: NumPy's MemoryError, or torch's
    allocator's RuntimeError."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError)
                                            and "DefaultCPUAllocator: can't allocate memory" in str(exc))


class ReturnError(Exception):
    """A graded function returned something that is not an array of numbers."""


def to_array(value: Any) -> tuple[np.ndarray, str]:
    """``value`` as a plain float64 ndarray, and the dtype it came in (a torch tensor's, for one).

    Raises:
      ReturnError: saying what was returned, in a student's words (``returned
        None: is a `return` missing?``, ``returned a dict``, ``returned text``).
    """
    if type(value) is np.ndarray and value.dtype.char == "d":
        # The common case, without a dtype conversion or a name lookup. Still a
        # copy: a function may return the same buffer on every call.
        if value.size > MAX_ELEMENTS:
            raise ReturnError(f"returned {value.size} numbers, more than any gradient here holds")
        return value.copy(), "float64"
    if value is None:
        raise ReturnError("returned None: is a `return` missing?")
    if _torch.is_tensor(value):
        value = _torch.to_numpy(value)
    if isinstance(value, (str, bytes, dict, set)):
        raise ReturnError(f"returned {_described(value)}, not an array of numbers")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - whatever the object does when converted
        raise ReturnError(f"returned {_described(value)}, not an array of numbers") from None
    if arr.dtype.kind not in "biuf":
        raise ReturnError(f"returned {_described(value)}, not an array of real numbers")
    if arr.size > MAX_ELEMENTS:
        raise ReturnError(f"returned {arr.size} numbers, more than any gradient here holds")
    return np.array(arr, dtype=np.float64), str(arr.dtype)


def _described(value: Any) -> str:
    """What a returned value is, in a student's words: ``a dict``, ``a tuple of 3 items``, ``text``."""
    if isinstance(value, (str, bytes)):
        return "text"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    dtype = getattr(value, "dtype", None)
    if isinstance(value, np.ndarray) and dtype is not None:
        kind = {"U": "text", "S": "bytes", "O": "Python objects", "c": "complex numbers", "M": "dates",
                "m": "time spans"}.get(dtype.kind, str(dtype))
        return f"an array of {kind}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def describe_exception(exc: BaseException, filenames: Collection[str | None], outside: str = "") -> str:
    """``"ZeroDivisionError: division by zero (line 12: `return 1 / 0`)"``, or
    ``(cell 7, line 3: ...)`` in a notebook.

    The line quoted is the last one of the traceback that lies in one of
    ``filenames`` (the submission's), so that the student sees their own code;
    ``outside`` is added where no line of the traceback is theirs.
    """
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, SyntaxError) and exc.filename in filenames and exc.lineno:
        return (text + _where(exc.filename, exc.lineno, exc.text))[:MAX_MESSAGE]
    stack = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in stack if f.filename in filenames]
    if frames:
        text += _where(frames[-1].filename, frames[-1].lineno, frames[-1].line)
    else:
        text += outside
    if stack and stack[-1].filename.startswith(_NUMPY_DIR):
        # Raised inside NumPy: which one, since the student's may differ.
        text += f" [NumPy {np.__version__}]"
    return text[:MAX_MESSAGE]


_NUMPY_DIR = os.path.dirname(np.__file__) + os.sep


def _where(filename: str, lineno: int, line: str | None) -> str:
    # A notebook's cells run as "cell 7", a package's files as "cs231n/layers.py", a .py file as itself.
    cell = filename[5:].isdigit() and filename.startswith("cell ")
    at = f"{filename}, line {lineno}" if cell or "/" in filename else f"line {lineno}"
    line = (line or "").strip()
    return f" ({at}: `{line}`)" if line else f" ({at})"


def _holds_arrays(item: list | tuple) -> bool:
    """Whether a list holds arrays or dicts, at any depth (else it is itself an array, written as lists)."""
    stack = [item]
    while stack:
        for element in stack.pop():
            if isinstance(element, (np.ndarray, dict)) or _torch.is_tensor(element):
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
    # A case's arguments are arrays (exactly np.ndarray), or dicts and lists of them: tested first.
    if type(tree) is np.ndarray:
        return tree.copy()
    if isinstance(tree, dict):
        return {k: v.copy() if type(v) is np.ndarray else _copy(v) for k, v in tree.items()}
    if _torch.is_tensor(tree):
        return tree.clone()
    return [_copy(v) for v in tree]


class Missing(Exception):
    """Raised where a pack's harness reads a name that the submission does not define."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class Stopped(Exception):
    """Raised where a target reads a name that a notebook's exercise cell did not reach: ``error``
    is what the cell raised before it."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


#: Said of an error raised outside the student's lines, in a harness's call of their code.
OUTSIDE = " (in bpgrade's call of your code, not in a line of yours: does it return what the course's interface says?)"


def call_targets(functions: Mapping[str, Callable | None], cases: Sequence[tuple[Sequence[Any], Mapping]],
                 nested: Collection[str] = (), share: float | None = None,
                 filenames: Collection[str] | None = None,
                 groups: Mapping[str, Sequence[tuple[str, Any]]] | None = None) -> tuple[dict, list[np.ndarray]]:
    """Call every graded function on every case.

    Args:
      functions: target name to the submission's function (None when missing);
        with ``groups``, group name to the function that computes the group.
      cases: per case, the positional inputs and the params dict (arrays, or
        nests of lists and dicts of arrays); params None: no params argument.
      nested: the targets whose gradient is a nest of arrays (a list of
        layers); the others are one array each.
      share: seconds of wall-clock time each function may take for all the
        cases (a SIGALRM timer; in a worker only): one endless function fails
        alone, with the error kind :data:`TIMEOUT_KIND`.
      filenames: the files of the submission (a notebook's cells), whose
        deepest line an error quotes; the function's own file when None.
      groups: for a pack's harness, each group's targets as ``(target, key)``:
        the group's function is called once per case and each target is the
        entry ``key`` of what it returns. A :class:`Missing` raised by it
        makes its targets missing, naming what is missing.

    Returns:
      A header ``{"targets": {name: {"missing", "error", "error_kind",
      "error_case", "memory", "outputs": [per case, [[path, array index,
      dtype], ...]]}}}`` and the arrays it indexes. ``error_kind`` is the
      exception's class name, or :data:`RETURN_KIND`. A nested target's
      function returns a nest of arrays (:func:`leaves`), any other an array.
      A function that raises, or returns what is not made of arrays of
      numbers, is not called again on later cases (for that target).
    """
    targets, arrays = {}, []
    harness = groups is not None
    for group, members in (groups or {name: [(name, None)] for name in functions}).items():
        fn = functions.get(group)
        records = []
        for name, key in members:
            targets[name] = {"missing": fn is None, "error": None, "error_kind": None, "error_case": None,
                             "memory": False, "outputs": []}
            records.append((targets[name], key, name in nested))
        if fn is None:
            continue
        files = filenames or {getattr(getattr(fn, "__code__", None), "co_filename", None)}
        if share is not None:
            # Again every 0.1 s, for a submission that catches the first.
            signal.signal(signal.SIGALRM, _out_of_time)
            signal.setitimer(signal.ITIMER_REAL, share, 0.1)
        try:
            _call_cases(fn, files, cases, records, arrays, share, harness)
        finally:
            if share is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
    return {"targets": targets}, arrays


def _call_cases(fn: Callable, files: Collection[str | None], cases, records: list[tuple[dict, Any, bool]],
                arrays: list[np.ndarray], share: float | None, harness: bool) -> None:
    """One function on every case, into its targets' records and ``arrays``, until each has failed."""
    for index, (inputs, params) in enumerate(cases):
        # Fresh copies: a function that changes its arguments in place
        # must not change what the next function sees.
        args = [_copy(a) for a in inputs]
        if params is not None:
            args.append(_copy(params))
        failed: dict | None = None
        try:
            returned = fn(*args)
            _torch.check_grad_mode()
            kept = []
            for record, key, nested in records:
                try:
                    value = returned if key is None else _entry(returned, key)
                except (ReturnError, Missing, Stopped) as e:
                    # One entry of a harness's result (a notebook's name): its target alone fails.
                    _fail(record, _failure(e, index, files, share, harness), index)
                    continue
                try:
                    record["outputs"].append(_read(value, nested, arrays))
                    kept.append((record, key, nested))
                except ReturnError as e:
                    record.update(error=_keyed(str(e), key), error_kind=RETURN_KIND, error_case=index)
            records = kept
        except BaseException as e:  # noqa: BLE001 - student code may raise anything, SystemExit included
            failed = _failure(e, index, files, share, harness)
        if failed is not None:
            for record, _, _ in records:
                _fail(record, failed, index)
            return
        if not records:
            return


def _failure(e: BaseException, index: int, files: Collection[str | None], share: float | None,
             harness: bool) -> dict:
    """What a record says of ``e``, raised on case ``index``."""
    if isinstance(e, Missing):
        return ({"missing": True, "error": e.name} if index == 0 else
                {"error": f"NameError: {e.name} is not defined", "error_kind": "NameError"})
    if isinstance(e, ReturnError):
        return {"error": str(e), "error_kind": RETURN_KIND}
    if isinstance(e, OutOfTime):
        return {"error": f"ran past its share of the time limit ({share:.3g} s)", "error_kind": TIMEOUT_KIND}
    if isinstance(e, Stopped):
        # What the student's cell raised: its own line is quoted.
        e = e.error
    return {"error": describe_exception(e, files, OUTSIDE if harness else ""), "error_kind": type(e).__name__,
            "memory": out_of_memory(e)}


def _fail(record: dict, failed: dict, index: int) -> None:
    record.update(failed, error_case=None if failed.get("missing") else index)
    if failed.get("missing"):
        record["outputs"].clear()


def _keyed(error: str, key: Any) -> str:
    """A bad return value's message, for entry ``key`` of what a harness's call returned:
    ``"returned dW1 = None"``."""
    if key is None or not error.startswith("returned "):
        return error
    name = f"item {key}" if isinstance(key, int) else key
    return f"returned {name} = " + error[len("returned "):].replace(": is a `return` missing?", "")


def _entry(returned: Any, key: Any) -> Any:
    """Entry ``key`` of what a harness function returned."""
    try:
        return returned[key]
    except (KeyError, IndexError, TypeError):
        what = "no item" if isinstance(returned, (tuple, list)) else "no key" if isinstance(returned, dict) else "no"
        raise ReturnError(f"returned {_described(returned)}, with {what} {key!r}, where the course's interface "
                          "has it") from None


def _read(value: Any, nested: bool, arrays: list[np.ndarray]) -> list:
    """One case's result of a target into ``arrays``: its ``[path, index, dtype]`` leaves."""
    found = []
    for path, leaf in leaves(value) if nested else [("", value)]:
        out, dtype = to_array(leaf)
        arrays.append(out)
        found.append([path, len(arrays) - 1, dtype])
    return found


def build(structure: Any, arrays: Sequence[np.ndarray]) -> Any:
    """A nest of lists and dicts whose ints index ``arrays``, with the arrays put in."""
    if structure is None:
        return None
    if isinstance(structure, int):
        return arrays[structure]
    if isinstance(structure, dict):
        return {k: build(v, arrays) for k, v in structure.items()}
    return [build(v, arrays) for v in structure]


