"""Throughput of `bpgrade grade`: submissions per second, each in its own sandboxed worker.

Builds a batch of mlp2 submissions (the reference solution and variants of it
with one mistake each), then measures:

- `bpgrade grade` through the command line, start-up included, with the XLA
  compilation cache cold and warm;
- the floor: forking a worker from the fork server and calling the functions,
  with no comparison and no gradebook;
- a fresh `python` per submission that imports NumPy, runs the file and calls
  the functions (what a simple isolating grader does), on a sample.

With ``--against CHECKOUT`` (another checkout of bpgrade, run from its source
with this environment's packages), both graders are timed warm, one after the
other, ``--repeat`` times, and the medians and their ratio are printed: before
and after figures from one run, on one machine state.

    python benchmarks/grade_throughput.py [--count 1000] [--jobs N] [--against CHECKOUT] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import bpgrade
from bpgrade.runner import Job
from bpgrade.sandbox import DEFAULT_JOBS, Sandbox

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "solutions" / "mlp2.py").read_text()
MISTAKES = [
    ("d_l2 = 2.0 * (l2 - y) / x.shape[0]", "d_l2 = (l2 - y) / x.shape[0]"),
    ('d_u1 = (d_l2 @ params["w2"].T) * (u1 > 0)', 'd_u1 = d_l2 @ params["w2"].T'),
    ("return x.T @ d_u1", "return d_u1.T @ x"),
    ("return d_l2.sum(axis=0)", "return d_l2.sum()"),
]

FRESH = """
import sys, numpy as np
data = np.load(sys.argv[2])
n = int(data["n"])
ns = {}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), ns)
for name in ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x"):
    for i in range(n):
        p = {k: data[f"{i}_{k}"].copy() for k in ("w1", "b1", "w2", "b2")}
        np.asarray(ns[name](data[f"{i}_x"].copy(), data[f"{i}_y"].copy(), p), dtype=np.float64)
"""


def build(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        source = REFERENCE
        if i % 2:
            old, new = MISTAKES[(i // 2) % len(MISTAKES)]
            source = source.replace(old, new)
        path = folder / f"s{i:05d}.py"
        path.write_text(source)
        paths.append(path)
    return paths


def timed_cli(folder: Path, db: Path, jobs: int, cache: str, checkout: Path | None = None) -> float:
    env = {**os.environ, "BPGRADE_CACHE_DIR": cache}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpgrade", "grade", str(folder), "-e", "mlp2", "--db", str(db),
                    "--jobs", str(jobs), "-q", "-o", os.devnull], check=True, env=env)
    return time.perf_counter() - start


def floor(paths: list[Path], jobs: int) -> float:
    pack = bpgrade.load_pack("mlp2")
    job = Job.for_pack(pack, bpgrade.generate_cases(pack))
    start = time.perf_counter()
    with Sandbox(job, jobs) as sandbox:
        for _ in sandbox.run((p.stem, p, ()) for p in paths):
            pass
    return time.perf_counter() - start


def fresh(paths: list[Path], jobs: int, work: Path) -> float:
    pack = bpgrade.load_pack("mlp2")
    cases = bpgrade.generate_cases(pack)
    arrays = {"n": np.array(len(cases))}
    for i, c in enumerate(cases):
        arrays.update({f"{i}_{k}": v for k, v in c.tensors.items()})
    np.savez(work / "cases.npz", **arrays)
    script = work / "fresh.py"
    script.write_text(FRESH)

    def one(path: Path) -> None:
        subprocess.run([sys.executable, "-I", str(script), str(path), str(work / "cases.npz")], check=True,
                       capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--fresh-sample", type=int, default=100)
    parser.add_argument("--against", type=Path, metavar="CHECKOUT", help="another checkout of bpgrade to time beside "
                        "this one (warm), alternately")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each grader with --against")
    args = parser.parse_args()
    if args.against is not None:
        return compare(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        batch = work / "batch"
        batch.mkdir()
        paths = build(batch, args.count)
        cache = work / "xla"
        cold = timed_cli(batch, work / "cold.sqlite", args.jobs, "")
        timed_cli(batch, work / "warmup.sqlite", args.jobs, str(cache))
        warm = timed_cli(batch, work / "warm.sqlite", args.jobs, str(cache))
        bottom = floor(paths, args.jobs)
        sample = paths[:args.fresh_sample]
        new = fresh(sample, args.jobs, work) * len(paths) / len(sample)
    n = args.count
    print(f"{n} mlp2 submissions, {args.jobs} workers, {len(os.sched_getaffinity(0))} CPUs")
    print(f"bpgrade grade, start-up included, compile cache cold: {cold:6.2f} s  {n / cold:6.0f}/s")
    print(f"bpgrade grade, start-up included, compile cache warm: {warm:6.2f} s  {n / warm:6.0f}/s")
    print(f"floor: fork and call, no grading (start-up excluded):  {bottom:6.2f} s  {n / bottom:6.0f}/s")
    print(f"a fresh python per submission ({len(sample)} timed, scaled): {new:6.2f} s  {n / new:6.0f}/s")
    print(f"grade (warm) / floor: {bottom / warm:.2f} of the floor's rate")
    print(f"grade (warm) / fresh python: {new / warm:.1f}x faster")


def compare(args) -> None:
    """This checkout's `bpgrade grade` against another's, warm, alternately."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        batch = work / "batch"
        batch.mkdir()
        build(batch, args.count)
        caches = {"this": str(work / "xla-this"), "other": str(work / "xla-other")}
        checkouts = {"this": None, "other": args.against.resolve()}
        for name in checkouts:  # fill the compilation caches
            timed_cli(batch, work / f"warmup-{name}.sqlite", args.jobs, caches[name], checkouts[name])
        times: dict[str, list[float]] = {"this": [], "other": []}
        for i in range(args.repeat):
            for name in checkouts:
                times[name].append(timed_cli(batch, work / f"{name}-{i}.sqlite", args.jobs, caches[name],
                                             checkouts[name]))
    n = args.count
    print(f"{n} mlp2 submissions, {args.jobs} workers, {len(os.sched_getaffinity(0))} CPUs, warm, "
          f"{args.repeat} runs each, alternately")
    for name, label in (("other", f"{args.against}"), ("this", "this checkout")):
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        median = statistics.median(times[name])
        print(f"{label}: median {median:.2f} s ({n / median:.0f}/s); runs {runs}")
    ratio = statistics.median(times["this"]) / statistics.median(times["other"])
    print(f"this / {args.against}: {ratio:.3f} of the time")


if __name__ == "__main__":
    main()
