"""Submissions that are packages: an assignment folder, or the .zip a course's script makes.

A pack that names a module (``module: cs231n.classifiers.fc_net``) grades
packages: a folder, or a ``.zip`` archive, that holds the module's file at
``cs231n/classifiers/fc_net.py`` (at its top or a few folders down, as
archives made of a whole assignment folder have it). Every ``.py`` file of the
top package (``cs231n/``) is read, so that relative imports work; nothing else
is. The worker imports them from memory (:mod:`bpgrade._imports`).

A package is hostile input like any submission: links are refused (in a
folder or in an archive), as are archive names that climb out (``..``), and
the files' count and size are capped.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Mapping

from .errors import SubmissionError
from .submissions import MAX_NOTEBOOK_BYTES, decode_python, read_file, size_text

#: The most files of a package read.
MAX_FILES = 500
#: How many folders down from the submission's folder (or the archive's top) the package may lie.
MAX_DEPTH = 3
#: The most folders looked into, finding the package or reading it: a submission of a million
#: empty folders costs no more than this.
MAX_FOLDERS = 2000
_SKIPPED = ("__pycache__", "__MACOSX", ".ipynb_checkpoints")


def is_package(path: Path) -> bool:
    """Whether ``path`` is given as a package: a folder or a ``.zip`` archive (links not followed)."""
    return path.suffix == ".zip" or (path.is_dir() and not path.is_symlink())


def module_file(module: str) -> str:
    """``"cs231n/classifiers/fc_net.py"`` for ``"cs231n.classifiers.fc_net"``."""
    return module.replace(".", "/") + ".py"


def find_root(folder: Path, module: str) -> Path | None:
    """The folder, ``folder`` itself or up to :data:`MAX_DEPTH` levels down, that holds the
    module's file; links are never followed."""
    wanted = module_file(module)
    level, looked = [folder], 0
    for _ in range(MAX_DEPTH + 1):
        level = level[:max(MAX_FOLDERS - looked, 0)]
        looked += len(level)
        below = []
        for candidate in level:
            try:
                if stat.S_ISREG(os.lstat(candidate / wanted).st_mode) and not _linked(candidate, wanted):
                    return candidate
            except OSError:
                pass
            try:
                below += [e for e in sorted(candidate.iterdir())
                          if e.is_dir() and not e.is_symlink() and e.name not in _SKIPPED]
            except OSError:
                continue
        level = below
    return None


def _linked(root: Path, relative: str) -> bool:
    """Whether any folder on the way from ``root`` to ``relative`` is a link."""
    path = root
    for part in relative.split("/")[:-1]:
        path = path / part
        if path.is_symlink():
            return True
    return False


def read_package(path: Path, module: str, limit: int) -> dict[str, str]:
    """The Python files of the package that holds ``module``, ``{"cs231n/layers.py": source}``,
    from a folder or a ``.zip`` archive.

    Args:
      limit: the most bytes of code read in all.

    Raises:
      SubmissionError: no such module in it, a link, a name that climbs out of
        the archive, too many files or too much code, or a file that is not Python text.
    """
    if path.suffix == ".zip":
        return _from_zip(path, module, limit)
    root = find_root(path, module)
    if root is None:
        raise SubmissionError(f"{path.name} holds no {module_file(module)} (looked {MAX_DEPTH} folders down)")
    top = module.partition(".")[0]
    found: dict[str, bytes] = {}
    stack, folders = [root / top], 0
    while stack:
        folder = stack.pop()
        folders += 1
        if folders > MAX_FOLDERS:
            raise SubmissionError(f"{path.name} holds more than {MAX_FOLDERS} folders in its package")
        for entry in sorted(folder.iterdir()):
            relative = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                raise SubmissionError(f"{relative} is a symbolic link: bpgrade follows no link in a package")
            if entry.is_dir() and entry.name not in _SKIPPED:
                stack.append(entry)
            elif entry.suffix == ".py":
                found[relative] = read_file(entry, limit)
                _check_size(found, limit, path.name)
    return _decoded(found)


def _from_zip(path: Path, module: str, limit: int) -> dict[str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(read_file(path, MAX_NOTEBOOK_BYTES)))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise SubmissionError(f"{path.name} is not a readable .zip archive: {e}") from None
    wanted = module_file(module)
    prefixes = sorted((m.filename[:-len(wanted)] for m in members
                       if m.filename == wanted or m.filename.endswith("/" + wanted)), key=len)
    prefixes = [p for p in prefixes if p.count("/") <= MAX_DEPTH and not p.startswith(_SKIPPED)]
    if not prefixes:
        raise SubmissionError(f"{path.name} holds no {wanted} (looked {MAX_DEPTH} folders down)")
    top = prefixes[0] + module.partition(".")[0] + "/"
    found: dict[str, bytes] = {}
    for member in members:
        if not member.filename.startswith(top) or member.is_dir():
            continue
        relative = member.filename[len(prefixes[0]):]
        parts = relative.split("/")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise SubmissionError(f"{relative} is a symbolic link: bpgrade follows no link in a package")
        if ".." in parts or "" in parts or "\\" in relative:
            raise SubmissionError(f"{path.name} holds a file named {relative!r}, which leads out of its folder")
        if not relative.endswith(".py") or any(p in _SKIPPED or p.startswith("._") for p in parts):
            continue
        try:
            with archive.open(member) as file:
                # Read one byte past the limit whatever the archive claims: a zip bomb stops there.
                found[relative] = file.read(limit + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
            raise SubmissionError(f"{relative} cannot be read from {path.name}: {e}") from None
        _check_size(found, limit, path.name)
    return _decoded(found)


def _check_size(found: Mapping[str, bytes], limit: int, name: str) -> None:
    if len(found) > MAX_FILES:
        raise SubmissionError(f"{name} holds more than {MAX_FILES} Python files")
    if sum(map(len, found.values())) > limit:
        raise SubmissionError(f"{name} holds more than {size_text(limit)} of code; bpgrade runs at most that "
                              "(--max-size)")


def _decoded(found: Mapping[str, bytes]) -> dict[str, str]:
    return {relative: decode_python(data, relative) for relative, data in sorted(found.items())}
