"""The wire between the grader and its fork server: frames of float64 arrays, and control messages.

A frame is 8 bytes of little-endian header length, the JSON header, then the
bytes of every array whose shape ``header["shapes"]`` lists, back to back:
little-endian float64, but for those whose indices ``header["int64"]`` lists
(little-endian int64). Only the grader's frames may hold int64 arrays (integer
inputs); a worker's hold float64 alone. No pickle crosses in either direction, and a
frame that a worker wrote is read as hostile: its header is parsed once, with
a small cap, and every failure is a :class:`WireError`.

Control messages are one JSON object per SOCK_SEQPACKET message, with file
descriptors passed alongside (:mod:`bpgrade._worker` lists them).

This module imports nothing but NumPy and the standard library: the fork server runs it.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from typing import Any, Mapping, Sequence

import numpy as np

#: The dtype of every array a worker sends.
WIRE_DTYPE = "<f8"
#: The dtype of integer inputs (class labels), which only the grader sends.
INT_DTYPE = "<i8"
#: No array on the wire may hold more entries than this.
MAX_ELEMENTS = 1_000_000
#: Bytes of JSON header a worker's result frame may have: its results take a few KB.
MAX_RESULT_HEADER = 1 << 20
#: Bytes a worker's result frame may have in all.
MAX_RESULT_BYTES = 64 << 20


#: The dtypes an array is sent in as it is (the common case: no conversion, no copy).
_AS_SENT = (np.dtype(WIRE_DTYPE), np.dtype(INT_DTYPE))


class WireError(ValueError):
    """A frame that does not follow the format. Its message never quotes the frame."""


def encode(header: Mapping[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """One frame holding ``header`` (JSON-able) and ``arrays``: float64, or int64 for integer arrays."""
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,), which
    # would hide a scalar returned where a (1,) vector is asked for.
    arrays = [a if type(a) is np.ndarray and a.dtype in _AS_SENT and a.flags.c_contiguous else
              np.asarray(a, dtype=np.int64 if np.asarray(a).dtype.kind in "iu" else np.float64, order="C")
              for a in arrays]
    ints = [i for i, a in enumerate(arrays) if a.dtype == np.int64]
    # Shapes alone, and the int64 ones by index: a result's header is half as long, and read faster.
    head = json.dumps({**header, "shapes": [a.shape for a in arrays], **({"int64": ints} if ints else {})})
    head_bytes = head.encode()
    # One copy: join reads each (C-contiguous) array's buffer in place.
    return b"".join([struct.pack("<Q", len(head_bytes)), head_bytes, *arrays])


def _parse_header(raw: bytes | bytearray, dtypes: Sequence[str]) -> tuple[dict, list[tuple[int, ...]], list[str]]:
    """The header, and the shapes and dtypes (each one of ``dtypes``) of the arrays it lists."""
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WireError("the header is not JSON") from None
    listed = header.get("shapes") if isinstance(header, dict) else None
    if not isinstance(listed, list):
        raise WireError("the header lists no arrays")
    shapes = []
    checked: set[str] = set()  # a frame's arrays have a few shapes, each checked once
    for shape in listed:
        if type(shape) is not list:
            raise WireError("an array is described wrongly")
        key = repr(shape)  # exact: 1, 1.0 and True differ
        if key not in checked:
            if not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape):
                raise WireError("an array is described wrongly")
            if math.prod(shape) > MAX_ELEMENTS:
                raise WireError("an array is larger than allowed")
            checked.add(key)
        shapes.append(tuple(shape))
    kinds = [WIRE_DTYPE] * len(shapes)
    ints = header.get("int64", [])
    if type(ints) is not list or ints and INT_DTYPE not in dtypes:
        raise WireError("an array is described wrongly")
    for i in ints:
        if type(i) is not int or not 0 <= i < len(shapes) or kinds[i] == INT_DTYPE:
            raise WireError("an array is described wrongly")
        kinds[i] = INT_DTYPE
    return header, shapes, kinds


class FrameReader:
    """One frame, read from a stream in pieces in time linear in its length.

    :meth:`feed` each piece as it arrives; the header is parsed once, when it
    is whole; :meth:`take` gives the frame once :meth:`feed` said it is whole.
    """

    def __init__(self, max_header: int = MAX_RESULT_HEADER, max_bytes: int = MAX_RESULT_BYTES,
                 dtypes: Sequence[str] = (WIRE_DTYPE,)):
        self.max_header, self.max_bytes, self.dtypes = max_header, max_bytes, tuple(dtypes)
        self._buf = bytearray()
        self._header: dict | None = None
        self._shapes: list[tuple[int, ...]] = []
        self._kinds: list[str] = []
        self._length: int | None = None

    def feed(self, chunk: bytes) -> bool:
        """Add ``chunk``; whether the frame is whole.

        Raises:
          WireError: a header longer than ``max_header`` or not valid, or a
            frame longer than ``max_bytes``.
        """
        self._buf += chunk
        if self._length is None and len(self._buf) >= 8:
            (size,) = struct.unpack_from("<Q", self._buf)
            if size > self.max_header:
                raise WireError("the header is longer than allowed")
            if len(self._buf) >= 8 + size:
                self._header, self._shapes, self._kinds = _parse_header(self._buf[8:8 + size], self.dtypes)
                self._length = 8 + size + 8 * sum(math.prod(s) for s in self._shapes)
        if (self._length or len(self._buf)) > self.max_bytes:
            raise WireError("the frame is longer than allowed")
        return self._length is not None and len(self._buf) >= self._length

    def take(self) -> tuple[dict, list[np.ndarray], bytes]:
        """The header, the arrays (read-only views, without a copy) and the bytes that followed the frame."""
        assert self._header is not None and self._length is not None and len(self._buf) >= self._length
        rest = bytes(self._buf[self._length:])
        del self._buf[self._length:]
        counts = [math.prod(s) for s in self._shapes]
        head = self._length - 8 * sum(counts)
        flat = np.frombuffer(memoryview(self._buf).toreadonly(), np.float64, sum(counts), head)
        ends = np.cumsum(counts)
        arrays = [flat[end - n:end].reshape(shape) for n, end, shape in zip(counts, ends, self._shapes)]
        arrays = [a.view(np.int64) if kind == INT_DTYPE else a for a, kind in zip(arrays, self._kinds)]
        return self._header, arrays, rest


def decode(frame: bytes, max_header: int = MAX_RESULT_HEADER, dtypes: Sequence[str] = (WIRE_DTYPE,)
           ) -> tuple[dict, list[np.ndarray]]:
    """The header and arrays of exactly one frame.

    Raises:
      WireError: a truncated or oversized frame, a dtype not in ``dtypes``, a
        bad shape, or bytes left over.
    """
    reader = FrameReader(max_header, max(len(frame), 8), dtypes)
    if not reader.feed(frame):
        raise WireError("the frame is cut short")
    header, arrays, rest = reader.take()
    if rest:
        raise WireError("bytes follow the frame")
    return header, arrays


def send_message(sock: socket.socket, message: dict, fds: Sequence[int] = ()) -> None:
    """One JSON control message, with file descriptors passed alongside."""
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))
