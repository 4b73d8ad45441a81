"""Starts three processes in sessions of their own that would sleep on. EXPECT: ok, leaves nothing running"""
import os
import time

for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    print("left", pid, flush=True)
