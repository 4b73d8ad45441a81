"""Reserves up to 4 GiB, 256 MiB at a time, untouched (so that a broken sandbox fails a test instead of the machine). EXPECT: memory"""
import numpy as np

hoard = [np.empty(32 << 20) for _ in range(16)]
