"""Looks for answers in the garbage collector, in files near it and all over the disk. EXPECT: ok, no credit"""
import gc
import os

import numpy as np

found = []
for obj in gc.get_objects():
    if isinstance(obj, dict) and "expected" in obj:
        found.append(obj)
for folder in ("..", "../..", "/tmp", "/work", "/root", "/proc/1"):
    try:
        names = os.listdir(folder)[:200]
    except OSError:
        continue
    for name in names:
        try:
            with open(os.path.join(folder, name), "rb") as f:
                found.append(f.read(100))
        except OSError:
            pass
print("found", len(found))


def grad_w1(x, y, params):
    return np.zeros_like(params["w1"])
