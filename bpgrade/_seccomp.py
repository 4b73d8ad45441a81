"""Seccomp filters: what a worker may not ask of the kernel.

They hold on every kernel and for every user, root or not: they are what
keeps a worker that runs under the grader's own uid (no root, so no uid of its
own) from reaching outside itself. A worker under them may not

- create processes or threads, or run programs (``fork``, ``clone``,
  ``clone3``, ``vfork``, ``execve``): nothing of it outlives its process group;
- make sockets (``socket``, ``socketpair``): no network, UDP included, and no
  Unix socket of another program; it keeps the one its result goes back on;
- open a file for writing, create, remove, rename, link or chmod anything: it
  writes only to the descriptors it was given (its printed output, its result);
- signal, ptrace, renice, re-limit or read the memory of another process
  (``kill`` and the like only to itself);
- watch files (inotify, fanotify, ``F_NOTIFY``), leave System V or POSIX IPC
  objects or keys behind, mount, change namespaces, or use io_uring, BPF,
  perf events or userfaultfd;
- use a system call newer than this table (``ENOSYS``, which libraries take as
  "not supported") or the x32 ABI.

Each refused call fails with ``EPERM`` (a ``PermissionError`` in Python), except
``clone3`` and ``openat2``, whose arguments a filter cannot read: ``ENOSYS``,
so that the C library falls back to ``clone`` and ``openat``, which it can.

The kernel's cost of installing a filter grows with its length (about 3 µs an
instruction), and a worker pays it on every fork. So the fork server installs
the long filter on itself once (:func:`server_filter`: all of the above but
what the server itself needs, creating processes and signalling them), which
every worker inherits; each worker then adds the short one
(:func:`worker_filter`: no processes, signals and limits only to itself).

x86-64 only; :func:`available` says whether they apply here.
"""

from __future__ import annotations

import ctypes
import os
from typing import Sequence

from ._confine import libc, x86_64_linux

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
#: The newest system call this table knows (file_setattr, Linux 6.17).
_LAST_KNOWN = 469

_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_EPERM, _ENOSYS = 1, 38
_LD_ABS_W, _JEQ, _JGT, _JGE, _JSET, _RET = 0x20, 0x15, 0x25, 0x35, 0x45, 0x06
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2

#: Refused outright to the server and so to every worker, by x86-64 number.
DENIED = {
    "execve": 59, "execveat": 322,
    # sockets
    "socket": 41, "socketpair": 53, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "accept4": 288,
    # writing to the file system
    "creat": 85, "mkdir": 83, "rmdir": 84, "link": 86, "unlink": 87, "symlink": 88, "rename": 82,
    "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93, "lchown": 94, "truncate": 76, "mknod": 133,
    "utime": 132, "utimes": 235, "futimesat": 261, "mkdirat": 258, "mknodat": 259, "fchownat": 260,
    "unlinkat": 263, "renameat": 264, "linkat": 265, "symlinkat": 266, "fchmodat": 268, "utimensat": 280,
    "renameat2": 316, "fchmodat2": 452, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466,
    "file_setattr": 469, "name_to_handle_at": 303, "open_by_handle_at": 304, "memfd_create": 319,
    "memfd_secret": 447,
    # watching files
    "inotify_init": 253, "inotify_add_watch": 254, "inotify_init1": 294, "fanotify_init": 300,
    "fanotify_mark": 301,
    # other processes
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "process_madvise": 440, "process_mrelease": 448,
    "migrate_pages": 256, "move_pages": 279, "get_robust_list": 274, "setpriority": 141, "ioprio_set": 251,
    "capset": 126,
    # System V and POSIX IPC, keys: objects that outlive the process
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
    "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240,
    "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "add_key": 248, "request_key": 249, "keyctl": 250,
    # mounts, namespaces, the machine
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "open_tree_attr": 467, "swapon": 167, "swapoff": 168, "quotactl": 179,
    "quotactl_fd": 443, "acct": 163, "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172,
    "ioperm": 173, "init_module": 175, "delete_module": 176, "finit_module": 313, "kexec_load": 246,
    "kexec_file_load": 320, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305,
    "syslog": 103, "vhangup": 153, "lookup_dcookie": 212, "personality": 135, "lsm_set_self_attr": 460,
    # kernel interfaces a submission has no use for
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427,
}
#: Refused with ENOSYS: their arguments lie behind a pointer that a filter cannot read.
UNSUPPORTED = {"clone3": 435, "openat2": 437}
#: Allowed to the server only on the calling process (argument 0 is 0): limits and scheduling.
CALLER_ONLY = {"prlimit64": 302, "sched_setaffinity": 203, "sched_setparam": 142, "sched_setscheduler": 144,
               "sched_setattr": 314}
#: Refused to a worker (the server forks workers).
PROCESSES = {"fork": 57, "vfork": 58, "clone": 56}
#: Allowed to a worker only on itself (argument 0 is its pid; kill: also 0 and -pid, its own
#: process group, which holds only the worker).
SIGNALS = {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297}
#: open(path, flags) and openat(dirfd, path, flags): refused when the flags ask to write or create.
OPENS = {"open": (2, 1), "openat": (257, 2)}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC
#: fcntl commands that reach other processes (F_SETOWN, F_SETSIG, F_SETOWN_EX: signals on I/O)
#: or watch files (F_NOTIFY, F_SETLEASE).
_FCNTL, _FCNTL_DENIED = 72, (8, 10, 15, 1024, 1026)


class _Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Instruction))]


def available() -> bool:
    """Whether these filters apply here (Linux on x86-64)."""
    return x86_64_linux()


def _arg(index: int) -> int:
    # The low 32 bits of argument ``index`` in struct seccomp_data (little-endian): every
    # argument checked here is an int, of which the kernel reads only those bits.
    return 16 + 8 * index


class Filter:
    """A seccomp program: :meth:`install` confines the calling process for good.

    ``code`` is a list of classic BPF instructions ``(code, jt, jf, k)``;
    ``pid_slots`` the instructions whose ``k`` is to be the caller's pid times
    a sign, written in by :meth:`install`.
    """

    def __init__(self, code: list[tuple[int, int, int, int]], pid_slots: Sequence[tuple[int, int]] = ()):
        if any(jt > 255 or jf > 255 for _, jt, jf, _ in code):
            raise AssertionError("a jump of the seccomp program is too long")
        self._pid_slots = tuple(pid_slots)
        self._code = (_Instruction * len(code))(*(_Instruction(*c) for c in code))
        self._program = _Program(len(code), self._code)

    def __len__(self) -> int:
        return self._program.len

    def install(self) -> None:
        """Confine the calling process (single-threaded, as the server and a worker are) for good."""
        pid = os.getpid()
        for index, sign in self._pid_slots:
            self._code[index].k = (sign * pid) & 0xFFFFFFFF
        lib = libc()
        if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if lib.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(self._program), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


_Code = list[tuple[int, int, int, int]]
_ALLOW = [(_RET, 0, 0, _RET_ALLOW)]


def _refuse(errno: int = _EPERM) -> _Code:
    return [(_RET, 0, 0, _RET_ERRNO | errno)]


def _allowed_if(index: int, values: Sequence[int]) -> _Code:
    """Load argument ``index``; allow when it is one of ``values`` (placeholders are fine), else refuse."""
    code = [(_LD_ABS_W, 0, 0, _arg(index))]
    code += [(_JEQ, len(values) - i, 0, value) for i, value in enumerate(values)]
    return code + _refuse() + _ALLOW


def server_filter() -> Filter:
    """The long filter, for the fork server (and so every worker): all but processes and signals.

    A binary search over system call numbers, so that any verdict is a few
    jumps away; everything not named is allowed.
    """
    verdicts: dict[int, _Code] = {nr: _refuse() for nr in DENIED.values()}
    verdicts.update({nr: _refuse(_ENOSYS) for nr in UNSUPPORTED.values()})
    verdicts.update({nr: _allowed_if(0, [0]) for nr in CALLER_ONLY.values()})
    for nr, index in OPENS.values():
        verdicts[nr] = [(_LD_ABS_W, 0, 0, _arg(index)), (_JSET, 0, 1, _WRITE_FLAGS), *_refuse(), *_ALLOW]
    commands = [(_JEQ, len(_FCNTL_DENIED) - i, 0, command) for i, command in enumerate(_FCNTL_DENIED)]
    verdicts[_FCNTL] = [(_LD_ABS_W, 0, 0, _arg(1)), *commands, *_ALLOW, *_refuse()]
    # Runs of consecutive numbers with one verdict: (first number, the verdict).
    runs: list[tuple[int, _Code]] = []
    for nr in range(_LAST_KNOWN + 1):
        verdict = verdicts.get(nr, _ALLOW)
        if not runs or runs[-1][1] != verdict:
            runs.append((nr, verdict))
    code: _Code = [
        (_LD_ABS_W, 0, 0, 4),
        (_JEQ, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET, 0, 0, _RET_KILL_PROCESS),
        (_LD_ABS_W, 0, 0, 0),
        (_JSET, 0, 1, _X32_BIT),
        *_refuse(),
        (_JGT, 0, 1, _LAST_KNOWN),
        *_refuse(_ENOSYS),
    ]

    def search(first: int, last: int) -> None:
        """The search over runs[first:last], appended to ``code``."""
        if last - first == 1:
            code.extend(runs[first][1])
            return
        middle = (first + last) // 2
        test = len(code)
        code.append((_JGE, 0, 0, runs[middle][0]))
        search(first, middle)
        code[test] = (_JGE, len(code) - test - 1, 0, runs[middle][0])
        search(middle, last)

    search(0, len(runs))
    return Filter(code)


def worker_filter() -> Filter:
    """The short filter each worker adds: no processes; signals only to itself.

    Its length is what a worker pays for on every fork, so it is a plain list
    of a few comparisons; the pids are written in by :meth:`Filter.install`.
    """
    blocks: list[tuple[list[int], _Code, list[int]]] = [  # numbers, verdict, its pid placeholders
        (sorted(PROCESSES.values()), _refuse(), []),
        ([SIGNALS["kill"]], _allowed_if(0, [0, 0, 0]), [2, 3]),
        (sorted(nr for name, nr in SIGNALS.items() if name != "kill"), _allowed_if(0, [0]), [1]),
    ]
    tests = sum(len(numbers) for numbers, _, _ in blocks)
    code: _Code = [(_LD_ABS_W, 0, 0, 0)]
    start = 1 + tests + 1  # where the first block begins, after the tests and the final allow
    slots: list[tuple[int, int]] = []
    for numbers, verdict, placeholders in blocks:
        for nr in numbers:
            code.append((_JEQ, start - len(code) - 1, 0, nr))
        slots += [(start + at, -1 if at == 3 else 1) for at in placeholders]
        start += len(verdict)
    code += _ALLOW
    for _, verdict, _ in blocks:
        code += verdict
    return Filter(code, slots)
