"""Starts three processes in sessions of their own that would sleep on (the sandbox refuses the forks). EXPECT: ok"""
import os
import time

for _ in range(3):
    try:
        pid = os.fork()
    except OSError as e:
        print("refused", type(e).__name__, flush=True)
        continue
    if pid == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    print("left", pid, flush=True)
