"""``python -m bpgrade`` and the ``bpgrade`` command: the command line (:mod:`bpgrade.cli`).

A command that runs submissions starts its fork server first, so that the server imports
NumPy while the command line imports the rest of bpgrade, both at once.
"""

import sys

#: The commands that run submissions in a fork server.
_RUNNING = ("check", "grade", "gradescope")


def run() -> int:
    from . import forkserver

    if len(sys.argv) > 1 and sys.argv[1] in _RUNNING:
        try:
            forkserver.start_spare()
        except forkserver.SandboxError:
            pass  # the command's own start of the server says why
    from .cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
