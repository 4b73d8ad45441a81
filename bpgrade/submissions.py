"""Finding the submissions in the paths given to ``bpgrade grade``, reading them safely, and sharding them.

Rules (SPEC.md): a file given directly is one submission; inside a given
folder, every ``*.py`` and ``*.ipynb`` directly in it is one submission whose
id is the file name without its suffix, and every sub-folder is one submission
named after it. A sub-folder's file is chosen by :func:`choose_file`, the rule
that ``bpgrade gradescope`` uses for an upload too; the other ``.py`` files
beside it are modules it may import (``from utils import relu``). A sub-folder
where nothing can be graded gets a record with the status ``no_submission``
that lists what it held: no submission is left out in silence.

A submission file is hostile input. A symbolic link is followed only where it
stays inside the folder it was found in (for a file given directly, the folder
that holds it); one that leaves it is never opened, and the submission gets an
error that says so. Files are opened without following links, must be regular
files (not FIFOs or devices), and are read only up to a limit.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

from .errors import BpgradeError, SubmissionError
from .safetext import clean_name

SUFFIXES = (".py", ".ipynb")
#: The most code a submission may run, by default (``--max-size``): a notebook's outputs do not count.
DEFAULT_MAX_SOURCE = 1 << 20
#: The largest notebook file read at all (outputs, plots and tables included).
MAX_NOTEBOOK_BYTES = 64 << 20
LINK_OUT = "is a symbolic link that leads out of the submissions folder: bpgrade does not follow it"


@dataclass(frozen=True)
class Submission:
    """One submission: its id (``"alice"``) and the file to grade; ``problem`` says
    why it cannot be run (a link out of its folder), when it cannot, and ``status``
    what its record says then (``"no_submission"``: nothing in its folder can be
    graded). ``module``: the module a package submission (a folder or a .zip) is
    graded on. ``siblings``: the ``.py`` files beside a sub-folder's file, which
    it may import."""

    id: str
    path: Path
    problem: str | None = None
    module: str | None = None
    siblings: tuple[Path, ...] = ()
    status: str = "error"

    def content_hash(self) -> str:
        """SHA-256 of the file's bytes (a package's files; with the files beside it), or of why
        they cannot be read."""
        from .packages import is_package, read_package

        try:
            if self.problem:
                raise SubmissionError(self.problem)
            if self.module and is_package(self.path):
                files = read_package(self.path, self.module, MAX_NOTEBOOK_BYTES)
                return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
            digest = hashlib.sha256(read_file(self.path, MAX_NOTEBOOK_BYTES))
            for sibling in self.siblings:
                digest.update(sibling.name.encode() + b"\0" + read_file(sibling, MAX_NOTEBOOK_BYTES))
            return digest.hexdigest()
        except SubmissionError as e:
            return hashlib.sha256(f"{self.problem or e}".encode("utf-8", "replace")).hexdigest()


def read_file(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, never through a symbolic link.

    Raises:
      SubmissionError: a link, a FIFO, a device or a folder, a file larger than
        ``limit`` bytes, or one that cannot be read.
    """
    name = Path(path).name
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SubmissionError(f"{name} is a symbolic link: bpgrade reads only the file itself") from None
        raise SubmissionError(f"cannot read {name}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise SubmissionError(_too_large(name, info.st_size, limit))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise SubmissionError(_too_large(name, size, limit))
        return b"".join(chunks)
    except OSError as e:
        raise SubmissionError(f"cannot read {name}: {e.strerror}") from None
    finally:
        os.close(fd)


def _too_large(name: str, size: int, limit: int) -> str:
    return (f"{name} holds {size_text(size)} of code; bpgrade runs at most {size_text(limit)} (--max-size): "
            "submit only the code that defines the gradients")


def size_text(size: int) -> str:
    """A size in bytes as people write it: ``"1 GiB"``, ``"0.5 MiB"``, ``"200 MiB"``."""
    return f"{size / (1 << 30):.3g} GiB" if size >= 1 << 30 else f"{size / (1 << 20):.3g} MiB"


def read_source(path: str | Path, limit: int) -> str:
    """The text of a Python file, decoded as Python decodes it (a UTF-8 byte order
    mark, a PEP 263 ``coding`` line), with universal newlines.

    Raises:
      SubmissionError: see :func:`read_file`; or bytes that its encoding cannot decode.
    """
    return decode_python(read_file(path, limit), Path(path).name)


def decode_python(data: bytes, name: str) -> str:
    """Bytes of a Python file as Python decodes them (see :func:`read_source`).

    Raises:
      SubmissionError: bytes that its encoding cannot decode.
    """
    try:
        return importlib.util.decode_source(data)
    except (SyntaxError, UnicodeDecodeError, LookupError) as e:
        raise SubmissionError(f"cannot decode {name} as Python source: {e}") from None


def collect(paths: Sequence[str | Path], module: str | None = None, names: Collection[str] = ()) -> list[Submission]:
    """The submissions found in ``paths``, in the order given (folders sorted by name).

    With ``module`` (a pack that grades packages, :mod:`bpgrade.packages`), a
    folder that holds the module's file is one submission, as is a ``.zip``
    file; in a given folder, so is each sub-folder that holds it. ``names``:
    what the pack's submissions define (``grad_w1``, ...), which chooses among
    the files of a sub-folder (:func:`choose_file`).

    Raises:
      SubmissionError: a path that does not exist, a file of another kind, a
        folder that holds nothing to grade at all, or two submissions with the same id.
    """
    found: list[Submission] = []
    for given in map(Path, paths):
        try:
            subs = _given(given, module, names)
        except OSError as e:
            raise SubmissionError(f"{given}: {e.strerror}") from None
        if not subs:
            raise SubmissionError(f"{given} holds no submission: no .py or .ipynb file, and no folder"
                                  f"{' or .zip' if module else ''} of one (is it the right folder?)")
        found += subs
    seen: dict[str, Path] = {}
    for sub in found:
        if sub.id in seen:
            raise SubmissionError(f"two submissions have the id {sub.id!r}: {seen[sub.id]} and {sub.path}")
        seen[sub.id] = sub.path
    return found


def _given(given: Path, module: str | None, names: Collection[str]) -> list[Submission]:
    """The submissions that one path given on the command line holds."""
    from .packages import find_root

    if given.is_symlink() and not within(given, given.parent.resolve()):
        return [Submission(clean_name(given.stem), given, f"{clean_name(given.name)} {LINK_OUT}")]
    if given.is_file():
        if given.suffix not in SUFFIXES and not (module and given.suffix == ".zip"):
            raise SubmissionError(f"{given}: expected a .py or .ipynb file{', a .zip' if module else ''} or a folder")
        return [Submission(clean_name(given.stem), given.resolve() if given.is_symlink() else given, module=module)]
    if not given.is_dir():
        raise SubmissionError(f"{given}: no such file or folder")
    if module and find_root(given, module) == given:
        # The package's own folder (cs231n/ lies in it): one submission.
        return [Submission(clean_name(given.resolve().name), given, module=module)]
    found = []
    root = given.resolve()
    for entry in sorted(given.iterdir()):
        if entry.name.startswith((".", "__")):
            continue  # .git, .ipynb_checkpoints, __pycache__, __MACOSX: no one's submission
        try:
            if module and not entry.is_symlink() and (entry.suffix == ".zip" and entry.is_file()
                                                      or entry.is_dir() and find_root(entry, module)):
                found.append(Submission(clean_name(entry.stem if entry.is_file() else entry.name), entry,
                                        module=module))
                continue
            sub = _entry(entry, root, names)
        except OSError as e:  # a folder or file of the batch that bpgrade may not read
            sub = Submission(clean_name(entry.stem if entry.suffix in SUFFIXES else entry.name), entry,
                             f"{clean_name(entry.name)} cannot be read: {e.strerror}")
        if sub is not None:
            found.append(sub)
    return found


def within(path: Path, root: Path) -> bool:
    """Whether ``path``, its links followed, lies in ``root`` (resolved)."""
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def _entry(entry: Path, root: Path, names: Collection[str]) -> Submission | None:
    """The submission that an entry of a given folder is, if any (a sub-folder always is one)."""
    out = entry.is_symlink() and not within(entry, root)
    target = entry.resolve() if entry.is_symlink() else entry
    if entry.suffix in SUFFIXES and (out or target.is_file()):
        return Submission(clean_name(entry.stem), target, f"{clean_name(entry.name)} {LINK_OUT}" if out else None)
    if entry.suffix in SUFFIXES and not target.is_dir():
        # A FIFO, a socket or a device named like a submission: said, not skipped.
        return Submission(clean_name(entry.stem), entry, f"{clean_name(entry.name)} is not a regular file: bpgrade "
                          "reads only regular files")
    if out:
        return (Submission(clean_name(entry.name), entry, f"the folder {clean_name(entry.name)} {LINK_OUT}")
                if entry.is_dir() else None)
    if target.is_dir():
        return _folder_submission(clean_name(entry.name), target, root, names)
    return None


def folder_submission(folder: Path, names: Collection[str]) -> Submission:
    """A folder given as one submission (to ``check``): its file and the .py files beside it."""
    folder = folder.resolve()
    return _folder_submission(clean_name(folder.name), folder, folder, names)


def _folder_submission(sub_id: str, folder: Path, root: Path, names: Collection[str]) -> Submission:
    """A sub-folder as a submission: its file, chosen, and the .py files beside it; or, where
    nothing can be graded, a ``no_submission`` record that says what the folder held."""
    entries = sorted(folder.iterdir())
    links = [p for p in entries if p.is_symlink() and p.suffix in SUFFIXES]
    candidates = [p for p in entries if p.suffix in SUFFIXES and not p.is_symlink() and p.is_file()]
    chosen = choose_file(candidates, names)
    if chosen is None:
        held = ", ".join(clean_name(p.name) + ("/" if p.is_dir() else "") for p in entries[:_LISTED])
        held += f" and {len(entries) - _LISTED} more" if len(entries) > _LISTED else ""
        why = (f"several files could be it ({', '.join(clean_name(p.name) for p in candidates)}) and none "
               "defines more of the exercise's functions than the others: name the one to grade submission.py"
               if candidates else "no .py or .ipynb file to grade" + (
                   f" (links are not followed: {', '.join(clean_name(p.name) for p in links)})" if links else ""))
        return Submission(sub_id, folder, f"nothing to grade in {clean_name(folder.name)}/: {why}; it holds "
                          f"{held or 'nothing'}", status="no_submission")
    siblings = tuple(p for p in candidates if p.suffix == ".py" and p != chosen)
    return Submission(sub_id, chosen, None if within(chosen, root) else f"{clean_name(chosen.name)} {LINK_OUT}",
                      siblings=siblings)


#: What of a folder's entries a no_submission record lists.
_LISTED = 10


def choose_file(candidates: Sequence[Path], names: Collection[str]) -> Path | None:
    """The file to grade among a submission's ``.py`` and ``.ipynb`` files: ``submission.py``
    (or ``.ipynb``) if there is one; the only file; else the one that defines the most of
    ``names`` (the exercise's functions, or what its harness reads); among equals, the only
    ``.py`` (a notebook beside a .py is its draft), or the only notebook. None: no file, or a
    tie that nothing breaks."""
    for named in ("submission.py", "submission.ipynb"):
        found = [p for p in candidates if p.name == named]
        if found:
            return found[0]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    counts = {p: _defined(p, names) for p in candidates}
    best = max(counts.values())
    top = [p for p in candidates if counts[p] == best]
    for group in (top, [p for p in top if p.suffix == ".py"], [p for p in top if p.suffix == ".ipynb"]):
        if len(group) == 1:
            return group[0]
        if group:
            return None
    return None


def _defined(path: Path, names: Collection[str]) -> int:
    """How many of ``names`` a file defines (``def``, ``class`` or an assignment), read as text."""
    if not names:
        return 0
    try:
        text = read_file(path, MAX_NOTEBOOK_BYTES).decode("utf-8", "replace")
    except SubmissionError:
        return 0
    alternatives = "|".join(map(re.escape, names))
    pattern = re.compile(rf"\b(?:def|class)\s+({alternatives})\b|(?:^|[\s\"'])({alternatives})\s*=(?!=)", re.M)
    return len({a or b for a, b in pattern.findall(text)})


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` as ``(2, 8)``: part 2 of 8, counted from 1.

    Raises:
      BpgradeError: not of the form K/N with 1 <= K <= N.
    """
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BpgradeError(f"--shard takes K/N, for example 2/8, got {text!r}") from None
    if not 1 <= k <= n:
        raise BpgradeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard(submissions: Sequence[Submission], k: int, n: int) -> list[Submission]:
    """Part ``k`` of ``n`` (from 1): a submission belongs to the part picked by
    a hash of its id, so the parts do not change when submissions are added."""
    return [s for s in submissions if zlib.crc32(s.id.encode()) % n == k - 1]
