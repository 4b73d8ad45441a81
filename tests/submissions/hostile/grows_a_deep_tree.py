"""Makes a folder 3,000 levels deep where it runs, then shuts that folder and leaves output.txt as a folder. EXPECT: ok"""
import os

made = 0
try:
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
        made += 1
except OSError as e:
    print("refused after", made, type(e).__name__)
for step in (lambda: os.chmod(".", 0), lambda: os.mkdir("output.txt"), lambda: os.chmod("..", 0)):
    try:
        step()
    except OSError as e:
        print("refused", type(e).__name__)
