"""Signals its parent, its process group's neighbours and everyone it may. EXPECT: ok"""
import os
import signal

for target in (os.getppid(), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
try:
    os.kill(-1, signal.SIGTERM)
except OSError:
    pass
