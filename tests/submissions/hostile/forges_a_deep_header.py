"""Sends, on every descriptor it may, a result frame whose JSON header is nested 100,000 deep. EXPECT: error, no credit"""
import os
import struct

header = ("[" * 100_000 + "]" * 100_000).encode()
frame = struct.pack("<Q", len(header)) + header
for fd in range(3, 64):
    try:
        os.write(fd, frame)
    except OSError:
        pass
os._exit(0)
