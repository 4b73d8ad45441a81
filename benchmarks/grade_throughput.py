"""Throughput of `bpgrade grade` against the bare floor of running submissions at all.

Builds a batch of mlp2 submissions (the reference solution and variants of it
with one mistake each) and times, in one run, on one machine state:

- the bare floor: a NumPy-warm process forks a child per submission, which
  execs its source, calls the 5 functions on every case and sends the results
  back on a pipe; ``--jobs`` children at once, no isolation, no grading;
- bpgrade's isolated floor: its fork server and workers (own session, rlimits,
  uid as root, Landlock, seccomp, the result frames), no comparison, no gradebook;
- `bpgrade grade` through the command line, start-up included, truth store and
  compilation cache warm (the median of ``--repeat`` runs), and once cold;

and prints the ratios to the bare floor. ``--fresh-sample N`` also times a fresh
`python` per submission (what a simple isolating grader does) on N of them.

With ``--against CHECKOUT`` (another checkout of bpgrade, run from its source
with this environment's packages), both graders are timed warm, one after the
other, ``--repeat`` times, and the medians and their ratio are printed; with
``--base CHECKOUT`` too, that checkout is timed in place of this one (two past
commits, say).

    python benchmarks/grade_throughput.py [--count 1000] [--jobs N] [--repeat 3] [--against CHECKOUT [--base CHECKOUT]]
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import bpgrade
from bpgrade.runner import Job
from bpgrade.sandbox import DEFAULT_JOBS, Sandbox

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "solutions" / "mlp2.py").read_text()
FUNCTIONS = ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x")
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


def timed_cli(folder: Path, db: Path, jobs: int, env: dict[str, str], checkout: Path | None = None) -> float:
    env = {**os.environ, **env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as an installed package has it
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    start = time.perf_counter()
    # Run from the batch's folder: from a checkout's root, `-m` would import that checkout's bpgrade
    # before PYTHONPATH's.
    subprocess.run([sys.executable, "-m", "bpgrade", "grade", str(folder), "-e", "mlp2", "--db", str(db),
                    "--jobs", str(jobs), "-q", "-o", os.devnull], check=True, env=env, cwd=folder.parent)
    return time.perf_counter() - start


BARE = """
import os, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from bpgrade._wire import encode

data = np.load(sys.argv[2])
jobs, paths = int(sys.argv[3]), sys.argv[4:]
cases = [(data[f"{i}_x"], data[f"{i}_y"], {k: data[f"{i}_{k}"] for k in ("w1", "b1", "w2", "b2")})
         for i in range(int(data["n"]))]
functions = ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x")
np.ones((4, 4)) @ np.ones((4, 4))  # BLAS set up before the forks, as in bpgrade's fork server
start = time.perf_counter()
running = {}
for path in [*paths, *[None] * jobs]:
    if len(running) == jobs or path is None and running:
        pid, _ = os.wait()
        fd = running.pop(pid)
        while os.read(fd, 1 << 16):
            pass
        os.close(fd)
    if path is None:
        continue
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        namespace = {}
        exec(compile(open(path).read(), path, "exec"), namespace)
        out = [np.asarray(namespace[f](x.copy(), y.copy(), {k: v.copy() for k, v in p.items()}), np.float64)
               for f in functions for x, y, p in cases]
        frame = memoryview(encode({}, out))
        while frame:
            frame = frame[os.write(write, frame):]
        os._exit(0)
    os.close(write)
    running[pid] = read
print(time.perf_counter() - start)
"""


def bare_floor(paths: list[Path], jobs: int, work: Path) -> float:
    """Fork, exec the source, call every function on every case, send the results back: nothing else,
    from a fresh process that imports NumPy alone (start-up excluded)."""
    cases = write_cases(work)
    # One BLAS thread, as bpgrade's fork server has: a thread pool is no use in a forked child.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", BARE, str(ROOT), str(cases), str(jobs), *map(str, paths)],
                         check=True, capture_output=True, text=True, env=env)
    return float(out.stdout)


def write_cases(work: Path) -> Path:
    cases = bpgrade.generate_cases(bpgrade.load_pack("mlp2"))
    arrays = {"n": np.array(len(cases))}
    for i, c in enumerate(cases):
        arrays.update({f"{i}_{k}": v for k, v in c.tensors.items()})
    np.savez(work / "cases.npz", **arrays)
    return work / "cases.npz"


def isolated_floor(paths: list[Path], jobs: int) -> float:
    """bpgrade's workers, every isolation step and the result frames, no grading (start-up excluded)."""
    pack = bpgrade.load_pack("mlp2")
    job = Job.for_pack(pack, bpgrade.generate_cases(pack))
    start = time.perf_counter()
    with Sandbox(job, jobs) as sandbox:
        for _ in sandbox.run((p.stem, p, ()) for p in paths):
            pass
    return time.perf_counter() - start


def fresh(paths: list[Path], jobs: int, work: Path) -> float:
    cases = write_cases(work)
    script = work / "fresh.py"
    script.write_text(FRESH)

    def one(path: Path) -> None:
        subprocess.run([sys.executable, "-I", str(script), str(path), str(cases)], check=True, capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--repeat", type=int, default=3, help="warm timings of each (the median is shown)")
    parser.add_argument("--fresh-sample", type=int, default=0, metavar="N",
                        help="also time a fresh python per submission on N of them")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT", help="another checkout of bpgrade to time beside "
                        "this one (warm), alternately")
    parser.add_argument("--base", type=Path, metavar="CHECKOUT", help="with --against: the checkout timed in place "
                        "of this one")
    args = parser.parse_args()
    if args.base is not None and args.against is None:
        parser.error("--base goes with --against")
    if args.against is not None:
        return compare(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        batch = work / "batch"
        batch.mkdir()
        paths = build(batch, args.count)
        warm_env = {"BPGRADE_CACHE_DIR": str(work / "xla"), "BPGRADE_STORE_DIR": str(work / "truth")}
        cold = timed_cli(batch, work / "cold.sqlite", args.jobs, {"BPGRADE_CACHE_DIR": "", "BPGRADE_STORE_DIR": ""})
        timed_cli(batch, work / "warmup.sqlite", args.jobs, warm_env)
        times: dict[str, list[float]] = {"bare": [], "isolated": [], "grade": []}
        for i in range(args.repeat):  # alternately, so that a change in the machine's state touches all three
            times["bare"].append(bare_floor(paths, args.jobs, work))
            times["isolated"].append(isolated_floor(paths, args.jobs))
            times["grade"].append(timed_cli(batch, work / f"warm-{i}.sqlite", args.jobs, warm_env))
        fresh_time = None
        if args.fresh_sample:
            sample = paths[:args.fresh_sample]
            fresh_time = fresh(sample, args.jobs, work) * len(paths) / len(sample)
    n = args.count
    bare, isolated, grade = (statistics.median(times[k]) for k in ("bare", "isolated", "grade"))
    print(f"{n} mlp2 submissions, {args.jobs} at a time, {len(os.sched_getaffinity(0))} CPUs, medians of "
          f"{args.repeat} alternated runs")
    print(f"bare floor: fork, exec, call, results on a pipe:         {bare:6.2f} s  {n / bare:5.0f}/s")
    print(f"isolated floor: bpgrade's workers, no grading:           {isolated:6.2f} s  {n / isolated:5.0f}/s")
    print(f"bpgrade grade, start-up included, store and cache warm:  {grade:6.2f} s  {n / grade:5.0f}/s")
    print(f"bpgrade grade, nothing stored, no compilation cache:     {cold:6.2f} s  {n / cold:5.0f}/s")
    if fresh_time is not None:
        print(f"a fresh python per submission ({args.fresh_sample} timed, scaled): {fresh_time:6.2f} s")
    print(f"isolated floor / bare floor: {isolated / bare:.2f}x")
    print(f"grade (warm) / bare floor:   {grade / bare:.2f}x")
    for name, runs in times.items():
        print(f"  {name} runs: " + ", ".join(f"{t:.2f}" for t in runs))


def compare(args) -> None:
    """This checkout's (or ``--base``'s) `bpgrade grade` against another's, warm, alternately; then whether their
    reports (the gradebooks' JSON export, but for the seconds each took) are the same."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        batch = work / "batch"
        batch.mkdir()
        build(batch, args.count)
        caches = {name: {"BPGRADE_CACHE_DIR": str(work / f"xla-{name}"),
                         "BPGRADE_STORE_DIR": str(work / f"truth-{name}")} for name in ("this", "other")}
        checkouts = {"this": args.base.resolve() if args.base else None, "other": args.against.resolve()}
        for name in checkouts:  # fill the compilation caches
            timed_cli(batch, work / f"warmup-{name}.sqlite", args.jobs, caches[name], checkouts[name])
        times: dict[str, list[float]] = {"this": [], "other": []}
        for i in range(args.repeat):
            for name in checkouts:
                times[name].append(timed_cli(batch, work / f"{name}-{i}.sqlite", args.jobs, caches[name],
                                             checkouts[name]))
        reports = {name: exported(work / f"{name}-0.sqlite") for name in checkouts}
    n = args.count
    print(f"{n} mlp2 submissions, {args.jobs} workers, {len(os.sched_getaffinity(0))} CPUs, warm, "
          f"{args.repeat} runs each, alternately")
    for name, label in (("other", f"{args.against}"), ("this", f"{args.base or 'this checkout'}")):
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        median = statistics.median(times[name])
        print(f"{label}: median {median:.2f} s ({n / median:.0f}/s); runs {runs}")
    ratio = statistics.median(times["this"]) / statistics.median(times["other"])
    print(f"{args.base or 'this'} / {args.against}: {ratio:.3f} of the time")
    differ = sorted(sub for sub in reports["this"].keys() | reports["other"].keys()
                    if reports["this"].get(sub) != reports["other"].get(sub))
    print(f"reports: {len(reports['this'])} and {len(reports['other'])}, "
          + (f"{len(differ)} differ: {', '.join(differ[:5])}" if differ else "every one the same"))


def exported(db: Path) -> dict[str, dict]:
    """Each submission's JSON record from a gradebook (this checkout's export), without its time."""
    out = subprocess.run([sys.executable, "-m", "bpgrade", "merge", str(db), "--db", str(db.with_suffix(".x")),
                          "--format", "jsonl"], check=True, capture_output=True, text=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    for record in records:
        record.pop("seconds")
    return {record["submission"]: record for record in records}


if __name__ == "__main__":
    main()
