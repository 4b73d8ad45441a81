"""Forks, starts a session, forks again so that a grandchild outlives the batch, and would watch the scratch folder with inotify and read what comes (each step bounded). EXPECT: ok"""
import ctypes
import os
import time

try:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(30)
        os._exit(0)
    print("left", pid, flush=True)
except OSError as e:
    print("fork refused", type(e).__name__, flush=True)
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
print("inotify", fd, "errno", ctypes.get_errno(), flush=True)
for folder in (".", "..", os.environ.get("TMPDIR", ".")):
    try:
        print(folder, os.listdir(folder)[:20])
    except OSError as e:
        print(folder, "refused", type(e).__name__)
