"""Sends, on every descriptor it may, a valid result frame with a 6 MB JSON header, slowly. EXPECT: error, no credit"""
import json
import os
import struct
import time

header = json.dumps({"targets": {}, "import_error": None, "padding": "x" * (6 << 20), "shapes": []}).encode()
frame = struct.pack("<Q", len(header)) + header
for fd in range(3, 64):
    try:
        for start in range(0, len(frame), 64 << 10):
            os.write(fd, frame[start:start + (64 << 10)])
            time.sleep(0.001)
    except OSError:
        pass
