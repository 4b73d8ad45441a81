"""Writes 300 files of 1 MiB each where it runs, and in its temporary folder. EXPECT: ok"""
import os


written, error = 0, None
for i in range(300):
    for folder in (".", os.environ["TMPDIR"]):
        try:
            with open(os.path.join(folder, f"junk-{i}"), "wb") as f:
                f.write(b"x" * (1 << 20))
            written += 1
        except OSError as e:
            error = type(e).__name__
print("written", written, error)
