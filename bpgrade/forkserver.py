"""Starting a fork server's process (:mod:`bpgrade._worker`), before its batch is known.

The server imports NumPy and the modules a submission may use while the grader
imports its own modules and reads the truth; :class:`bpgrade.sandbox.Sandbox`
then sends it the batch. The command line starts one first thing
(:func:`start_spare`), before it imports the rest of bpgrade, and the next
:func:`take` of the process gets it. This module imports the standard library alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

#: What the grader runs (``python -I -c BOOTSTRAP PACKAGE_PARENT CONTROL_FD``): :mod:`bpgrade._worker`,
#: imported from where the grader's bpgrade lies, without importing bpgrade's JAX side.
BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[1]); from bpgrade._worker import main; del sys.path[0]; "
             "main(int(sys.argv[2]))")


#: What the fork server's and its workers' environments say of threads: one, for NumPy's BLAS and
#: for torch (which the server may load later); a worker may create no thread anyway.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class SandboxError(RuntimeError):
    """The fork server failed: a fault of the machine or of bpgrade, not of a submission."""


class Server:
    """A fork server's process, started before its batch is known: it imports NumPy and the
    modules a submission may use while the grader reads the truth, and waits on its stdin for
    the batch's setup (:class:`Sandbox` sends it). :meth:`close` ends it; a Sandbox given one closes it.

    Raises:
      SandboxError: as root, the temporary folder lies where workers, under their own uids,
        cannot enter.
    """

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        self.scratch = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        self.scratch.chmod(0o711)
        if self.root:
            shut = [p for p in self.scratch.parents if not p.stat().st_mode & 0o001]
            if shut:
                _remove_tree(self.scratch)
                raise SandboxError(f"workers run under their own uid and cannot enter {shut[0]}: set TMPDIR to a "
                                   "folder that every user may enter (such as /tmp)")
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", **ONE_THREAD}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log = tempfile.TemporaryFile()
        package_parent = str(Path(__file__).resolve().parent.parent)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOTSTRAP, package_parent, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.log,
                env=env, cwd=self.scratch, start_new_session=True)
        except BaseException:
            ours.close()
            self.log.close()
            _remove_tree(self.scratch)
            raise
        finally:
            theirs.close()
        self.sock: socket.socket | None = ours

    def close(self, kill: bool = False) -> None:
        """End the server (and every worker it started) and remove its folder; again, nothing.
        ``kill``: at once, for a server that was never sent a batch."""
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        if kill:
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()
        _remove_tree(self.scratch)

    def last_words(self) -> str:
        """The last line the server wrote to its stderr (why it failed)."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.seek(0)
        lines = self.log.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no message"


_SPARE: Server | None = None


def start_spare() -> None:
    """Start a fork server for the next :func:`take` of this process (the command line's)."""
    global _SPARE
    if _SPARE is None:
        _SPARE = Server()


def take() -> Server:
    """The server :func:`start_spare` started, else a new one."""
    global _SPARE
    server, _SPARE = _SPARE, None
    return server or Server()


def close_spare() -> None:
    """End the spare server if nothing took it."""
    global _SPARE
    if _SPARE is not None:
        _SPARE.close(kill=True)
        _SPARE = None


def _remove_tree(root: Path) -> None:
    """Remove ``root`` and whatever lies in it, without following links, without
    recursion (a tree thousands of levels deep) and without raising: what cannot
    be removed is left, and costs no batch.

    Each folder found is first moved up into ``root``, so that no path grows long.
    """
    queue, moved = [str(root)], 0
    while queue:
        folder = queue.pop()
        try:
            os.chmod(folder, 0o700)  # a folder that a worker under the same uid shut
            entries = list(os.scandir(folder))
        except OSError:
            entries = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    flat = os.path.join(root, f".removing-{moved}")
                    moved += 1
                    os.rename(entry.path, flat)
                    queue.append(flat)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
        if folder != str(root):
            try:
                os.rmdir(folder)
            except OSError:
                pass
    try:
        os.rmdir(root)
    except OSError:
        pass
