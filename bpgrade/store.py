"""The truth store: a case set and its truths, computed once and kept on disk.

An entry holds what JAX computes of a pack and a case set: the cases, the true
gradient of every target in every case, the gradients of the pack's mistake
models (for diagnosis), and the :class:`~bpgrade.packs.Facts` that only running
the model tells. It is keyed by everything these depend on: every file of the
pack, the seed, the device asked for, bpgrade's own code, the versions of JAX,
jaxlib and NumPy, and the precision (float64, the highest matmul precision).
Reading an entry imports no JAX: ``check``, ``grade`` and ``gradescope`` start
in the time it takes to read it.

The folder is ``$BPGRADE_STORE_DIR``, else ``$XDG_CACHE_HOME/bpgrade/truth``,
else ``~/.cache/bpgrade/truth``; ``BPGRADE_STORE_DIR=""`` turns the store off
(the truth is then computed in every run).

The store holds answers. Its folder is the grader's user's alone (0700) and its
files 0600; a worker never reads it: Landlock lets a worker read only the
standard library and NumPy, and as root each worker has a uid of its own. A
worker under the grader's own user on a kernel without Landlock could read it,
as it could read any file of that user. An entry is trusted only when it is a
regular file (not a link) owned by this user and writable by no other, whose
checksum holds and whose key is the one asked for; anything else is computed
again and replaced. No pickle is read: an entry is a frame of raw arrays and a
JSON header (:mod:`bpgrade._wire`).

The store keeps itself small: reading an entry marks it used (its modification
time), and each new entry removes those not used for :data:`KEEP_DAYS` days and
those beyond the :data:`KEEP_ENTRIES` most recently used (every release of
bpgrade, JAX or NumPy makes new keys), with what a write cut short left behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._wire import INT_DTYPE, WIRE_DTYPE, FrameReader, WireError, encode
from .cases import Case
from .packs import Facts

#: Changes whenever what an entry holds, or how, changes.
FORMAT = 1
_MAGIC = b"bpgrade truth store\n"
_CHECKSUM = hashlib.sha256().digest_size
#: The truth's precision settings (truth.py): part of the key.
PRECISION = "float64, matmul precision highest"
#: An entry not used for this many days is removed when another is written.
KEEP_DAYS = 30
#: At most this many entries are kept, the most recently used (the shipped packs' are 70-160 KB each).
KEEP_ENTRIES = 200
#: What a write cut short leaves is removed after this many seconds.
_STALE_WRITE = 3600
#: An entry's file name (:func:`_name`).
_ENTRY = re.compile(r"[0-9a-f]{64}\.truth")


@dataclass(frozen=True)
class Truths:
    """A case set and what JAX computes of it, as an entry holds them.

    ``gradients`` maps each target to its true gradient in each case, in
    order (a float64 array, or a nest of lists and dicts of them; a target
    that may be zero has its rounding noise set to 0); ``mistakes[i][k]`` is
    ``{target: gradient}`` of the pack's ``k``-th mistake model in case ``i``;
    ``platform`` is where they were computed (``"cpu"``, ``"gpu"``, ``"tpu"``).
    """

    facts: Facts
    platform: str
    cases: tuple[Case, ...]
    gradients: Mapping[str, Sequence[Any]]
    mistakes: Sequence[Sequence[Mapping[str, Any]]]


def folder() -> Path | None:
    """The store's folder, made the user's alone; None when it is off or cannot be used
    (not creatable, a link, or owned by another user)."""
    configured = os.environ.get("BPGRADE_STORE_DIR")
    if configured == "":
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = Path(configured) if configured else base / "bpgrade" / "truth"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return None
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        return None
    return path


def key(root: Path, seed: int | None, device: str | None) -> dict[str, Any]:
    """What an entry of the pack in folder ``root`` depends on, for a seed (None: the pack's own
    public and hidden sets) and a device (None: JAX's default)."""
    return {"format": FORMAT, "pack": _pack_digest(Path(root).resolve()), "seed": seed, "device": device,
            "bpgrade": _code_digest(), "versions": _versions(), "precision": PRECISION}


def load(wanted: Mapping[str, Any]) -> Truths | None:
    """The entry of key ``wanted``, or None when there is none to trust."""
    place = folder()
    if place is None:
        return None
    try:
        fd = os.open(place / _name(wanted), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        data = file.read()
        try:
            os.utime(fd)  # used now: kept by the pruning of save()
        except OSError:
            pass  # a store that cannot be written (an image's) is never pruned either
    if not data.startswith(_MAGIC):
        return None
    body = memoryview(data)[len(_MAGIC):]
    if hashlib.sha256(body[_CHECKSUM:]).digest() != body[:_CHECKSUM]:
        return None
    try:
        reader = FrameReader(len(body), len(body), (WIRE_DTYPE, INT_DTYPE))
        if not reader.feed(body[_CHECKSUM:]):
            return None
        header, arrays, rest = reader.take()
        if rest or header.get("key") != json.loads(json.dumps(wanted)):
            return None
        return _truths(header, arrays)
    except (WireError, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def save(wanted: Mapping[str, Any], truths: Truths) -> bool:
    """Keep ``truths`` as the entry of key ``wanted`` (replacing any); whether it was kept."""
    place = folder()
    if place is None:
        return False
    arrays: list[np.ndarray] = []
    header = {
        "key": wanted,
        "facts": {"taps": list(truths.facts.taps), "mistakes": [list(m) for m in truths.facts.mistakes]},
        "platform": truths.platform,
        "cases": [{"index": c.index, "seed": c.seed, "dims": dict(c.dims), "hidden": c.hidden,
                   "tensors": _indexed(dict(c.tensors), arrays)} for c in truths.cases],
        "gradients": {name: [_indexed(g, arrays) for g in grads] for name, grads in truths.gradients.items()},
        "mistakes": [[{name: _indexed(g, arrays) for name, g in model.items()} for model in case]
                     for case in truths.mistakes],
    }
    payload = encode(header, arrays)
    try:
        fd, temporary = tempfile.mkstemp(dir=place, prefix=".writing-")
        with os.fdopen(fd, "wb") as file:
            file.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, place / _name(wanted))
    except OSError:
        try:
            os.unlink(temporary)
        except (OSError, UnboundLocalError):
            pass
        return False
    _prune(place)
    return True


def _prune(place: Path) -> None:
    """Remove the entries of ``place`` not used for :data:`KEEP_DAYS` days and those beyond the
    :data:`KEEP_ENTRIES` most recently used, and what writes cut short left. Only this user's
    regular files named as the store names them are touched."""
    now = time.time()
    entries: list[tuple[float, str]] = []
    try:
        names = os.listdir(place)
    except OSError:
        return
    for name in names:
        written = name.startswith(".writing-")
        if not (written or _ENTRY.fullmatch(name)):
            continue
        try:
            info = os.lstat(place / name)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            continue
        if written:
            if now - info.st_mtime > _STALE_WRITE:
                _remove(place / name)
        else:
            entries.append((info.st_mtime, name))
    entries.sort(reverse=True)
    for rank, (used, name) in enumerate(entries):
        if rank >= KEEP_ENTRIES or now - used > KEEP_DAYS * 86400:
            _remove(place / name)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _truths(header: Mapping[str, Any], arrays: Sequence[np.ndarray]) -> Truths:
    facts = header["facts"]
    cases = tuple(Case(int(c["index"]), int(c["seed"]), {str(k): int(v) for k, v in c["dims"].items()},
                       _tree(c["tensors"], arrays), bool(c["hidden"])) for c in header["cases"])
    gradients = {str(name): [_tree(g, arrays) for g in grads] for name, grads in header["gradients"].items()}
    if any(len(grads) != len(cases) for grads in gradients.values()) or len(header["mistakes"]) != len(cases):
        raise ValueError("an entry whose truths do not cover its cases")
    mistakes = [[{str(name): _tree(g, arrays) for name, g in model.items()} for model in case]
                for case in header["mistakes"]]
    said = tuple((str(n), str(c), str(t), None if r is None else str(r)) for n, c, t, r in facts["mistakes"])
    return Truths(Facts(tuple(str(t) for t in facts["taps"]), said), str(header["platform"]), cases, gradients,
                  mistakes)


def _indexed(tree: Any, arrays: list[np.ndarray]) -> Any:
    """``tree`` (arrays in lists, tuples and dicts) with each array replaced by its index in ``arrays``."""
    if isinstance(tree, dict):
        return {str(k): _indexed(v, arrays) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_indexed(v, arrays) for v in tree]
    arrays.append(np.asarray(tree))
    return len(arrays) - 1


def _tree(indexed: Any, arrays: Sequence[np.ndarray]) -> Any:
    if isinstance(indexed, dict):
        return {k: _tree(v, arrays) for k, v in indexed.items()}
    if isinstance(indexed, list):
        return [_tree(v, arrays) for v in indexed]
    if not isinstance(indexed, int) or isinstance(indexed, bool):
        raise ValueError("a leaf that is not an array's index")
    return arrays[indexed]


def _name(wanted: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest() + ".truth"


def _pack_digest(root: Path) -> str:
    """Every file of the pack (its model's helpers too), by path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if "__pycache__" not in p.parts and p.is_file()):
        digest.update(f"{path.relative_to(root)}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _code_digest() -> str:
    """bpgrade's own code: a change to how cases are drawn or the truth computed is a new key."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _versions() -> dict[str, str]:
    found = {"numpy": np.__version__}
    for name in ("jax", "jaxlib"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "none"
    return found
