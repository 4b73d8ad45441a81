"""Finding the submissions in the paths given to ``bpgrade grade``, and sharding them.

Rules (SPEC.md): a file given directly is one submission; inside a given
folder, every ``*.py`` and ``*.ipynb`` directly in it is one submission whose
id is the file name without its suffix, and a sub-folder holding one ``.py``
file, or else one ``.ipynb`` (or a ``submission.py`` or ``submission.ipynb``),
is one submission named after the sub-folder.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import BpgradeError, SubmissionError

SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Submission:
    """One submission: its id (``"alice"``) and the file to grade."""

    id: str
    path: Path

    def content_hash(self) -> str:
        """SHA-256 of the file's bytes, or of nothing when it cannot be read."""
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return hashlib.sha256(b"").hexdigest()


def collect(paths: Sequence[str | Path]) -> list[Submission]:
    """The submissions found in ``paths``, in the order given (folders sorted by name).

    Raises:
      SubmissionError: a path that does not exist, a file of another kind, or
        two submissions with the same id.
    """
    found: list[Submission] = []
    for given in map(Path, paths):
        if given.is_file():
            if given.suffix not in SUFFIXES:
                raise SubmissionError(f"{given}: expected a .py or .ipynb file or a folder")
            found.append(Submission(given.stem, given))
        elif given.is_dir():
            for entry in sorted(given.iterdir()):
                if entry.is_file() and entry.suffix in SUFFIXES:
                    found.append(Submission(entry.stem, entry))
                elif entry.is_dir():
                    inner = _folder_submission(entry)
                    if inner is not None:
                        found.append(Submission(entry.name, inner))
        else:
            raise SubmissionError(f"{given}: no such file or folder")
    seen: dict[str, Path] = {}
    for sub in found:
        if sub.id in seen:
            raise SubmissionError(f"two submissions have the id {sub.id!r}: {seen[sub.id]} and {sub.path}")
        seen[sub.id] = sub.path
    return found


def _folder_submission(folder: Path) -> Path | None:
    for named in ("submission.py", "submission.ipynb"):
        if (folder / named).is_file():
            return folder / named
    # One .py file is the submission whatever notebooks lie beside it; else one notebook.
    for suffix in SUFFIXES:
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix == suffix]
        if files:
            return files[0] if len(files) == 1 else None
    return None


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
