"""What a submission costs the machine in bpgrade's workers, against a bare fork.

Runs the same submissions twice, ``--jobs`` at a time: through bpgrade's fork
server and workers (every isolation step, the result frames; no grading), and
through the bare floor of `grade_throughput.py` (a NumPy-warm process forks a
child per submission that execs it and calls its functions). Prints, per
submission, the CPU time (user and system) and the minor page faults of the
processes that ran them (the fork server with its workers, forks included; the
bare floor's children, whose parent's forks are not counted), and the wall
time. Two batches: mlp2's (the reference and one-mistake variants) and a
trivial one (5 functions returning zeros), whose cost is the workers'
own. Then what makes a fork and an exit dear: the fork server's anonymous memory
and mappings (a NumPy-only process's beside them), and the size of the mlp2
reference's result frame.

    python benchmarks/worker_cost.py [--count 500] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bpgrade
from bpgrade._calls import call_targets
from bpgrade._wire import encode
from bpgrade.runner import Job
from bpgrade.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grade_throughput  # noqa: E402 - the bare floor and the batch are that benchmark's

TRIVIAL = "import numpy as np\n" + "".join(f"def grad_{n}(x, y, params):\n    return np.zeros(1)\n"
                                          for n in ("w1", "b1", "w2", "b2", "x"))
#: Printed by the bare floor's script when it ends: its children's usage.
USAGE = ("\nimport resource\nc = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
         "print(c.ru_utime, c.ru_stime, c.ru_minflt)\n")


def isolated(paths: list[Path], jobs: int) -> tuple[float, float, float, float]:
    """Wall, user, system seconds and faults of bpgrade's fork server and workers."""
    pack = bpgrade.load_pack("mlp2")
    job = Job.for_pack(pack, bpgrade.generate_cases(pack))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with Sandbox(job, jobs) as sandbox:  # the server is reaped on the way out: its usage and its workers' count
        for _ in sandbox.run((p.stem, p, ()) for p in paths):
            pass
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_minflt - before.ru_minflt)


def footprint(pid: int | str) -> tuple[int, int]:
    """Anonymous memory (KB) and mappings of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    anonymous = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("RssAnon:"))
    return anonymous, len(Path(f"/proc/{pid}/maps").read_text().splitlines())


def server_footprint() -> tuple[int, int]:
    """:func:`footprint` of mlp2's fork server, ready for its batch."""
    pack = bpgrade.load_pack("mlp2")
    with Sandbox(Job.for_pack(pack, bpgrade.generate_cases(pack)), 1) as sandbox:
        return footprint(sandbox._server.process.pid)


def numpy_footprint() -> tuple[int, int]:
    code = ("import pathlib, numpy\nstatus = pathlib.Path('/proc/self/status').read_text()\n"
            "print(next(l.split()[1] for l in status.splitlines() if l.startswith('RssAnon:')), "
            "len(pathlib.Path('/proc/self/maps').read_text().splitlines()))")
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True,
                         env={"OPENBLAS_NUM_THREADS": "1"}).stdout.split()
    return int(out[0]), int(out[1])


def result_frame() -> tuple[int, int]:
    """Header and whole size in bytes of the mlp2 reference's result frame (as a worker encodes it)."""
    pack = bpgrade.load_pack("mlp2")
    job = Job.for_pack(pack, bpgrade.generate_cases(pack))
    namespace: dict = {}
    exec(compile(grade_throughput.REFERENCE, "mlp2.py", "exec"), namespace)
    header, outputs = call_targets({t: namespace[f] for t, f in job.functions.items()}, job.cases)
    frame = encode(header, outputs)
    return int.from_bytes(frame[:8], "little"), len(frame)


def bare(paths: list[Path], jobs: int, work: Path) -> tuple[float, float, float, float]:
    """Wall, user, system seconds and faults of the bare floor's children."""
    cases = grade_throughput.write_cases(work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", grade_throughput.BARE + USAGE, str(grade_throughput.ROOT),
                          str(cases), str(jobs), *map(str, paths)], check=True, capture_output=True, text=True,
                         env=env).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    n = args.count
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "mlp2").mkdir()
        (work / "trivial").mkdir()
        batches = {"mlp2": grade_throughput.build(work / "mlp2", n), "trivial": []}
        for i in range(n):
            path = work / "trivial" / f"t{i:05d}.py"
            path.write_text(TRIVIAL + f"# {i}\n")
            batches["trivial"].append(path)
        print(f"{n} submissions per batch, {args.jobs} at a time; per submission: wall (batch / count), "
              "CPU user and system, minor page faults")
        for name, paths in batches.items():
            for label, (wall, user, system, faults) in (("bpgrade workers", isolated(paths, args.jobs)),
                                                        ("bare children", bare(paths, args.jobs, work))):
                print(f"{name:8s} {label:16s} wall {1e3 * wall / n:5.2f} ms  user {1e3 * user / n:5.2f} ms  "
                      f"system {1e3 * system / n:5.2f} ms  faults {faults / n:5.0f}")
    (server_kb, server_maps), (numpy_kb, numpy_maps) = server_footprint(), numpy_footprint()
    print(f"mlp2's fork server: {server_kb / 1024:.1f} MB of anonymous memory in {server_maps} mappings "
          f"(a NumPy-only process: {numpy_kb / 1024:.1f} MB in {numpy_maps})")
    head, whole = result_frame()
    print(f"the mlp2 reference's result frame: {whole / 1024:.1f} KB, of which a header of {head / 1024:.1f} KB")


if __name__ == "__main__":
    main()
