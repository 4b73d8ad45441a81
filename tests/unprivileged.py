"""Running the grader as an unprivileged user, from a test suite that runs as root (as CI does).

The user is a uid that no account and no process has. The interpreter, the
virtual environment and bpgrade may lie under a folder that only root may
enter (pyenv in /root, a checkout in /root): the command runs in a mount
namespace of its own, where each such folder is covered by an empty tmpfs
that anyone may enter and into which only the paths the grader needs are
bound. Nothing of the machine changes: the namespace goes with the command.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bpgrade

#: The unprivileged user's uid (and gid).
UID = 61999


def unavailable() -> str | None:
    """Why the grader cannot be run as another user here, or None."""
    if os.geteuid() != 0:
        return "the tests run as an unprivileged user: every other test is that mode"
    for tool in ("unshare", "mount", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    try:
        pwd.getpwuid(UID)
        return f"uid {UID} belongs to an account"
    except KeyError:
        pass
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs",
                                folder], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"this machine makes no mount namespace ({probe.stderr.strip()})"
    return None


def needed() -> list[Path]:
    """What the grader reads: the interpreter, its environment, bpgrade and its dependencies."""
    import jax

    paths = {Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix),
             Path(bpgrade.__file__).resolve().parent.parent, Path(jax.__file__).resolve().parent.parent}
    return sorted(p.resolve() for p in paths)


def command(argv: list[str], stage: Path) -> list[str]:
    """``argv`` run as :data:`UID`, with every path of :func:`needed` reachable; ``stage`` is an
    empty folder (the namespace mounts a tmpfs over it to hold what it covers)."""
    paths = needed()
    shut = sorted({folder for p in paths for folder in (p, *p.parents)
                   if folder.is_dir() and not folder.stat().st_mode & 0o001}, key=lambda f: len(f.parts))
    q = shlex.quote
    script = ["set -e", f"mount -t tmpfs -o mode=0700 tmpfs {q(str(stage))}"]
    for i, folder in enumerate(shut):
        keep = f"{stage}/{i}"
        script += [f"mkdir {q(keep)}", f"mount --bind {q(str(folder))} {q(keep)}",
                   f"mount -t tmpfs -o mode=0755 tmpfs {q(str(folder))}"]
        for child in sorted({p.relative_to(folder).parts[0] for p in paths if folder in p.parents}):
            source, target = q(f"{keep}/{child}"), q(str(folder / child))
            script += [f"if [ -d {source} ]; then mkdir {target}; else touch {target}; fi",
                       f"mount --bind {source} {target}"]
    script.append(f'exec setpriv --reuid={UID} --regid={UID} --clear-groups -- "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "sh", *argv]


def home(folder: Path) -> Path:
    """``folder`` made the user's own (mode 0700), with a ``tmp`` inside, and returned."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    own(folder)
    folder.chmod(0o700)
    return folder


def own(path: Path) -> None:
    """Give ``path`` and everything under it to the user."""
    for item in [path, *path.rglob("*")]:
        os.lchown(item, UID, UID)


def environment(base: dict[str, str], user_home: Path) -> dict[str, str]:
    """``base`` with the user's home, temporary folder, compilation cache and truth store."""
    return {**base, "HOME": str(user_home), "TMPDIR": str(user_home / "tmp"),
            "BPGRADE_CACHE_DIR": str(user_home / "xla"), "BPGRADE_STORE_DIR": str(user_home / "truth"),
            "USER": "bpgrade-test", "LOGNAME": "bpgrade-test"}
