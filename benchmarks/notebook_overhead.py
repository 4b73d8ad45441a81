"""What grading a notebook costs over grading the same functions as a .py file.

Builds a course notebook around the mlp2 reference solution (markdown, a pip
install, a magic, plotting imports, a training loop, a plot), then times
reading it (which code of which cell runs) and `bpgrade check` on it against
the reference .py, with the compilation cache warm, and prints the ratio.

    python benchmarks/notebook_overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpgrade.notebooks import parse_notebook

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "solutions" / "mlp2.py"


def course_notebook() -> str:
    def code(source: str) -> dict:
        return {"cell_type": "code", "metadata": {}, "outputs": [], "source": source.splitlines(True)}

    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Homework 3"},
             code("!pip install numpy matplotlib\n%matplotlib inline"),
             code("import numpy as np\nimport matplotlib.pyplot as plt\nLR = 0.05"),
             code(REFERENCE.read_text()),
             code("x = np.random.randn(16, 3)\nlosses = []\nfor i in range(100):\n    losses.append(i)\n"),
             code("plt.plot(losses)\nplt.show()")]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


def timed_check(path: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpgrade", "check", str(path), "-e", "mlp2"], check=True,
                   capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = course_notebook()
    functions = ["grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x"]
    start = time.perf_counter()
    for _ in range(100):
        parse_notebook(text, functions=functions)
    parse_ms = (time.perf_counter() - start) * 10
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / "mlp2.ipynb"
        notebook.write_text(text)
        env = {**os.environ, "BPGRADE_CACHE_DIR": str(Path(tmp) / "cache")}
        timed_check(REFERENCE, env)  # fills the compilation cache
        py = statistics.median(timed_check(REFERENCE, env) for _ in range(args.repeat))
        ipynb = statistics.median(timed_check(notebook, env) for _ in range(args.repeat))
    print(f"reading the notebook (which code runs): {parse_ms:.2f} ms")
    print(f"bpgrade check, warm cache, median of {args.repeat}: .py {py:.2f} s, .ipynb {ipynb:.2f} s "
          f"(ratio {ipynb / py:.2f})")


if __name__ == "__main__":
    main()
