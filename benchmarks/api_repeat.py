"""What a repeated `bpgrade.check` costs in one process, as in a notebook.

Checks the mlp2 reference functions (a dict, called in this process) several
times in a row and prints each call's time: the first computes the cases and
the truth (with the compilation cache on disk, as the API uses it), the next
ones reuse them.

    python benchmarks/api_repeat.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import bpgrade

REFERENCE = Path(__file__).resolve().parent.parent / "solutions" / "mlp2.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = {name: getattr(module, f"grad_{name}") for name in ("w1", "b1", "w2", "b2", "x")}
    for i in range(args.repeat):
        start = time.perf_counter()
        report = bpgrade.check("mlp2", functions)
        print(f"call {i + 1}: {time.perf_counter() - start:.3f} s, score {report.points}")


if __name__ == "__main__":
    main()
