"""Throughput of `bpgrade grade` on tensor code against NumPy code, for one pack (mlp2), in one run.

Builds two batches of mlp2 submissions that get full marks: the NumPy
reference solution, and the worked example's backward pass written with torch
tensors and `.g` attributes. Grades each batch through the command line
(warm compilation cache) `--repeat` times, alternately, and prints the medians,
their ratio, and the peak resident memory of one torch worker and one NumPy
worker (the fork server's pages they share included).

    python benchmarks/torch_throughput.py [--count 200] [--jobs N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_torch import WORKED  # noqa: E402 - the worked example's tensor code, shared with the tests

REFERENCE = (ROOT / "solutions" / "mlp2.py").read_text()
PEAK = "\nimport resource\nprint('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"


def timed(folder: Path, jobs: int, cache: str) -> float:
    db = folder.parent / f"{folder.name}-{time.monotonic_ns()}.sqlite"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpgrade", "grade", str(folder), "-e", "mlp2", "--db", str(db),
                    "--jobs", str(jobs), "-q", "-o", os.devnull], check=True,
                   env={**os.environ, "BPGRADE_CACHE_DIR": cache})
    return time.perf_counter() - start


def peak_kib(folder: Path, source: str) -> int:
    """The peak resident memory of one worker that ran ``source``, in KiB, as it printed it."""
    import bpgrade

    path = folder / "peak.py"
    path.write_text(source + PEAK)
    output = bpgrade.check("mlp2", path).output
    return int(output.split("peak")[-1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2 * len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        batches = {}
        for name, source in (("numpy", REFERENCE), ("torch", WORKED)):
            folder = base / name
            folder.mkdir()
            for i in range(args.count):
                (folder / f"s{i:05d}.py").write_text(source)
            batches[name] = folder
        cache = str(base / "cache")
        timed(batches["numpy"], args.jobs, cache)  # warms the compilation cache
        times: dict[str, list[float]] = {"numpy": [], "torch": []}
        for _ in range(args.repeat):
            for name, folder in batches.items():
                times[name].append(timed(folder, args.jobs, cache))
        print(f"{args.count} mlp2 submissions per batch, {args.jobs} workers, {len(os.sched_getaffinity(0))} CPUs, "
              f"warm, {args.repeat} runs each, alternately")
        for name, runs in times.items():
            median = statistics.median(runs)
            print(f"{name}: median {median:.2f} s ({args.count / median:.0f}/s); runs "
                  + ", ".join(f"{t:.2f}" for t in runs))
        print(f"torch / numpy: {statistics.median(times['torch']) / statistics.median(times['numpy']):.2f} of the time")
        print(f"peak resident memory of one worker: numpy {peak_kib(base, REFERENCE) / 1024:.0f} MiB, "
              f"torch {peak_kib(base, WORKED) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
