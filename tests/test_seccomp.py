"""The seccomp filters, system call by system call, in a forked child."""

import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bpgrade import _confine, _seccomp

pytestmark = pytest.mark.skipif(not _seccomp.available(), reason="the seccomp filters are x86-64 only")

CALLS = {
    "fork": os.fork,
    "thread": lambda: threading.Thread(target=lambda: None).start(),
    "exec": lambda: os.execv("/bin/true", ["true"]),
    "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    "unix": lambda: socket.socket(socket.AF_UNIX),
    "open for writing": lambda: open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "seccomp-probe"), "w"),
    "mkdir": lambda: os.mkdir("/tmp/seccomp-probe-dir"),
    "mkfifo": lambda: os.mkfifo("/tmp/seccomp-probe-fifo"),
    "chmod": lambda: os.chmod("/tmp", 0o1777),
    "memfd": lambda: os.memfd_create("probe"),
    "kill the parent": lambda: os.kill(os.getppid(), 0),
    "kill everyone": lambda: os.kill(-1, 0),
    "re-limit the parent": lambda: resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE),
    "pin the parent": lambda: os.sched_setaffinity(os.getppid(), {0}),
    "signal on I/O": lambda: fcntl.fcntl(1, fcntl.F_SETOWN, os.getppid()),
    "ptrace": lambda: _raise_errno(ctypes.CDLL(None, use_errno=True).ptrace(16, os.getppid(), 0, 0)),
    "inotify": lambda: _raise_errno(ctypes.CDLL(None, use_errno=True).inotify_init()),
    "System V memory": lambda: _raise_errno(ctypes.CDLL(None, use_errno=True).shmget(0, 4096, 0o1600)),
    # What a worker needs.
    "read a file": lambda: open("/etc/hostname" if os.path.exists("/etc/hostname") else __file__).close(),
    "kill itself": lambda: os.kill(os.getpid(), 0),
    "kill its group": lambda: os.kill(0, 0),
    "signal a thread of its own": lambda: signal.pthread_kill(threading.get_ident(), 0),
    "limit itself": lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32)),
    "numpy": lambda: __import__("numpy").linalg.inv(__import__("numpy").eye(3)),
    "read its flags": lambda: fcntl.fcntl(1, fcntl.F_GETFL),
}
ALLOWED = {"read a file", "kill itself", "kill its group", "signal a thread of its own", "limit itself", "numpy",
           "read its flags"}


def _raise_errno(result: int) -> None:
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def probe() -> None:
    """In a fresh process (run as ``python test_seccomp.py``): install both filters, make each
    call, print what each did as JSON."""
    _confine.libc()
    server, worker = _seccomp.server_filter(), _seccomp.worker_filter()
    os.setsid()
    server.install()
    worker.install()
    results = {}
    for name, call in CALLS.items():
        try:
            call()
            results[name] = "allowed"
        except (OSError, RuntimeError) as e:
            results[name] = type(e).__name__ + (f" {e.errno}" if isinstance(e, OSError) else "")
    print(json.dumps(results))


def outcomes_under_the_filters() -> dict[str, str]:
    """What each call does in a process under the server's filter and a worker's (a fresh
    interpreter, not a fork of this multithreaded one)."""
    proc = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_what_a_worker_may_and_may_not_ask_of_the_kernel():
    outcomes = outcomes_under_the_filters()
    assert {name for name, what in outcomes.items() if what == "allowed"} == ALLOWED, outcomes
    assert outcomes["thread"] == "RuntimeError"  # clone3 is ENOSYS, then clone is refused
    for name, what in outcomes.items():
        if name not in ALLOWED | {"thread"}:
            assert what == "PermissionError 1", (name, what)
    assert not os.path.exists("/tmp/seccomp-probe-dir") and not os.path.exists("/tmp/seccomp-probe-fifo")


def test_the_worker_filter_is_short_and_no_jump_is_too_long():
    # Its length is what every worker pays for when it installs it (about 3 µs an instruction).
    assert len(_seccomp.worker_filter()) < 30
    assert len(_seccomp.server_filter()) < 400


if __name__ == "__main__":
    probe()
