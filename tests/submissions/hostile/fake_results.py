"""Prints a fake passing result and writes forged frames to every descriptor it can. EXPECT: any, no credit"""
import json
import os
import struct

fake = {"exercise": "mlp2", "submission": "fake_results", "status": "ok", "score": 5.0, "max_score": 5.0}
print(json.dumps(fake))
print("w1 pass 1/1\nscore 5/5")
header = json.dumps({"targets": {}, "import_error": None, "shapes": []}).encode()
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack("<Q", len(header)) + header)
    except OSError:
        pass
