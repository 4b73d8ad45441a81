"""The errors bpgrade raises for input that a user can fix.

The command line turns each of them into a message on stderr and exit code 2;
anything else that escapes is a bug in bpgrade.
"""

from __future__ import annotations


class BpgradeError(Exception):
    """Bad input from the user: a pack, a path, a flag."""


class PackError(BpgradeError):
    """A pack that cannot be loaded: names the file, the key and what was expected."""

    def __init__(self, file: str, key: str, expected: str, got: object = None):
        self.file, self.key, self.expected, self.got = file, key, expected, got
        where = f"{file}: {key}" if key else file
        message = f"{where}: expected {expected}"
        if got is not None:
            message += f", got {got!r}"
        super().__init__(message)


class SubmissionError(BpgradeError):
    """A submission that cannot be read at all (missing file, wrong kind of file)."""


class DeviceError(BpgradeError):
    """A JAX backend that was asked for and is not available."""
