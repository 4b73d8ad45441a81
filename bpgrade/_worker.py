"""The child-process side of running a submission, and the wire both sides speak.

This module imports nothing but NumPy and the standard library, and nothing of
the truth: the grader starts it as a script (``python -I _worker.py``), sends
it the cases on stdin and reads back only plain float64 arrays, framed as JSON
metadata plus raw bytes. No pickle crosses in either direction.

Frame: 8 bytes little-endian header length, the JSON header, then the bytes of
every array listed in ``header["arrays"]`` (``{"dtype": "<f8", "shape": [...]}``)
back to back.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import struct
import sys
import traceback
from typing import Any, Callable, Mapping, Sequence

import numpy as np

#: The only dtype that crosses the wire.
WIRE_DTYPE = "<f8"
#: No graded function may return more entries than this.
MAX_ELEMENTS = 1_000_000
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
    arrays, offset = [], 8 + size
    for meta in metas:
        shape = meta.get("shape") if isinstance(meta, dict) else None
        if (meta.get("dtype") if isinstance(meta, dict) else None) != WIRE_DTYPE or not isinstance(shape, list) \
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ELEMENTS for n in shape):
            raise WireError(f"bad array description {meta!r}"[:200])
        count = int(np.prod(shape, dtype=np.int64))
        if count > MAX_ELEMENTS or offset + 8 * count > len(frame):
            raise WireError("array larger than the frame")
        arrays.append(np.frombuffer(frame, np.float64, count, offset).reshape(shape).copy())
        offset += 8 * count
    if offset != len(frame):
        raise WireError("bytes left over after the arrays")
    return header, arrays


class ReturnError(Exception):
    """A graded function returned something that is not an array of numbers."""


def to_array(value: Any) -> tuple[np.ndarray, str]:
    """``value`` as a plain float64 ndarray, and the dtype it came in."""
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


def describe_exception(exc: BaseException, filename: str | None) -> str:
    """``"ZeroDivisionError: division by zero (line 12: `return 1 / 0`)"``.

    The line quoted is the last one of the traceback that lies in ``filename``
    (the submission), so that the student sees their own code.
    """
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if frames:
        line = (frames[-1].line or "").strip()
        text += f" (line {frames[-1].lineno}: `{line}`)" if line else f" (line {frames[-1].lineno})"
    return text[:MAX_MESSAGE]


def call_targets(functions: Mapping[str, Callable | None], cases: Sequence[tuple[Sequence[np.ndarray], Mapping]]
                 ) -> tuple[dict, list[np.ndarray]]:
    """Call every graded function on every case.

    Args:
      functions: target name to the submission's function (None when missing).
      cases: per case, the positional input arrays and the params dict.

    Returns:
      A header ``{"targets": {name: {"missing", "error", "error_case",
      "outputs": [array index or None per case], "dtypes"}}}`` and the arrays
      it indexes. A function that raises, or returns what is not an array of
      numbers, is not called again on later cases.
    """
    targets, arrays = {}, []
    for name, fn in functions.items():
        record = {"missing": fn is None, "error": None, "error_case": None, "outputs": [], "dtypes": []}
        targets[name] = record
        if fn is None:
            continue
        filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
        for index, (inputs, params) in enumerate(cases):
            # Fresh copies: a function that changes its arguments in place
            # must not change what the next function sees.
            args = [a.copy() for a in inputs] + [{k: v.copy() for k, v in params.items()}]
            try:
                out, dtype = to_array(fn(*args))
            except ReturnError as e:
                record["error"], record["error_case"] = f"{name}: {e}", index
            except BaseException as e:  # noqa: BLE001 - student code may raise anything, SystemExit included
                record["error"], record["error_case"] = describe_exception(e, filename), index
            else:
                record["outputs"].append(len(arrays))
                record["dtypes"].append(dtype)
                arrays.append(out)
                continue
            break
    return {"targets": targets}, arrays


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


def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise WireError("truncated input")
    return data


def main() -> None:
    """Read a job frame on stdin, run it, write the result frame on the original stdout.

    The submission's own prints go to ``output.txt`` in the working directory,
    never into the result frame.
    """
    (size,) = struct.unpack("<Q", _read_exact(sys.stdin.buffer, 8))
    head = _read_exact(sys.stdin.buffer, size)
    job, arrays = decode(struct.pack("<Q", size) + head + sys.stdin.buffer.read())
    result = os.fdopen(os.dup(1), "wb")
    capture = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    blocker = ImportBlocker(job["forbidden"])
    sys.meta_path.insert(0, blocker)

    header: dict[str, Any] = {"import_error": None}
    functions: dict[str, Callable | None] = {name: None for name in job["functions"]}
    try:
        spec = importlib.util.spec_from_file_location("submission", job["submission"])
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as e:  # noqa: BLE001 - a submission may raise anything while importing
        header["import_error"] = describe_exception(e, job["submission"])
    else:
        for name, function_name in job["functions"].items():
            fn = getattr(module, function_name, None)
            functions[name] = fn if callable(fn) else None
    cases = [([arrays[i] for i in case["inputs"]], {k: arrays[i] for k, i in case["params"].items()})
             for case in job["cases"]]
    calls, outputs = call_targets(functions, cases) if header["import_error"] is None else ({"targets": {}}, [])
    header.update(calls, forbidden=sorted(set(blocker.attempts)))
    sys.stdout.flush()
    sys.stderr.flush()
    result.write(encode(header, outputs))
    result.flush()


if __name__ == "__main__":
    main()
