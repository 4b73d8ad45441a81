"""Confining a worker: resource limits, a uid of its own (as root), and Landlock.

Each function is called in the forked worker before it runs any submission
code, in this order: :func:`limit`, :func:`drop_uid` (as root),
:func:`landlock_restrict`; the seccomp filter (:mod:`bpgrade._seccomp`) comes last.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import sys
from typing import Mapping, Sequence

import numpy as np

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_FS_EXECUTE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}  # how many access bits each ABI knows
#: Descriptors a worker may hold at once.
MAX_FILES = 64


@functools.lru_cache(maxsize=None)
def libc() -> ctypes.CDLL:
    """The C library, loaded once in the server (its functions found there too, on first use): a
    worker that loaded it anew would copy more pages after its fork."""
    return ctypes.CDLL(None, use_errno=True)


def limit(limits: Mapping[str, int]) -> None:
    """Take the limits: CPU seconds (``cpu``), address space and file size in bytes
    (``memory``, ``file_size``), no core files, :data:`MAX_FILES` descriptors."""
    for res, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_AS, limits["memory"]),
                       (resource.RLIMIT_FSIZE, limits["file_size"]), (resource.RLIMIT_NOFILE, MAX_FILES)):
        resource.setrlimit(res, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 1))


def address_space() -> int:
    """This process's address space in bytes now (VmSize), 0 where it cannot be read."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def drop_uid(uid: int) -> None:
    """Become ``uid`` (and its gid), for good, limited to one process: what a root
    grader gives each slot, so that workers cannot touch the grader's files or each other."""
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def x86_64_linux() -> bool:
    """Whether this is Linux on x86-64, the system call numbers that Landlock's and seccomp's code uses."""
    return sys.platform.startswith("linux") and os.uname().machine == "x86_64"


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when there is none (or not on x86-64 Linux)."""
    if not x86_64_linux():
        return 0
    abi = libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_ruleset(readable: Sequence[str], abi: int) -> int:
    """A Landlock ruleset that allows reading ``readable`` and nothing else: no
    writing anywhere, no TCP (ABI 4), no signals or abstract Unix sockets out of
    the sandbox (ABI 6).

    Returns:
      The ruleset's file descriptor, for :func:`landlock_restrict`.
    """
    lib = libc()
    all_fs = (1 << _FS_BITS_BY_ABI.get(abi, 16)) - 1
    attr = (ctypes.c_uint64 * 3)(all_fs, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = lib.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    for path in readable:
        try:
            parent = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            access = _FS_EXECUTE | _FS_READ_FILE
            if os.path.isdir(path):  # a rule on a file takes only file rights
                access |= _FS_READ_DIR
            rule = _PathBeneath(access, parent)
            if lib.syscall(_SYS_ADD_RULE, fd, 1, ctypes.byref(rule), 0) != 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
        finally:
            os.close(parent)
    return fd


def landlock_restrict(ruleset_fd: int) -> None:
    lib = libc()
    if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if lib.syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")


def readable_paths(allowed: Sequence[str] = ()) -> list[str]:
    """What a worker may read: the standard library (without its site-packages), NumPy, and
    the folders of the installed modules a pack allows (``scipy.special``: scipy's)."""
    import importlib.util
    import sysconfig

    paths = []
    for key in ("stdlib", "platstdlib"):
        stdlib = sysconfig.get_paths()[key]
        for entry in sorted(os.listdir(stdlib)):
            if entry not in ("site-packages", "dist-packages") and os.path.join(stdlib, entry) not in paths:
                paths.append(os.path.join(stdlib, entry))
    folders = [os.path.dirname(np.__file__)]
    for name in allowed:
        spec = importlib.util.find_spec(name.partition(".")[0])
        if spec is not None and spec.origin:
            top = os.path.dirname(spec.origin) if spec.submodule_search_locations else spec.origin
            folders.append(top)
    for folder in folders:
        paths.append(folder)
        if os.path.isdir(folder + ".libs"):  # the shared libraries a wheel bundles (numpy.libs, scipy.libs)
            paths.append(folder + ".libs")
    return paths
