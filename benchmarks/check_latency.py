"""How long `bpgrade check` takes a student, against `python -c "import jax"`.

Runs the real command line on the reference solution of mlp2 with the truth
store and the compilation cache warm, alternately with `python -c "import jax"`
(so that a change in the machine's state touches both), and prints the medians
and their ratio; then once with nothing stored, and the time of a repeated
`bpgrade.check` in one process (a notebook's).

    python benchmarks/check_latency.py [--repeat 7] [--device cpu|gpu|tpu]
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
REFERENCE = ROOT / "solutions" / "mlp2.py"
REPEATED = """
import sys, time, bpgrade
bpgrade.check("mlp2", sys.argv[1])
times = []
for _ in range(5):
    start = time.perf_counter()
    bpgrade.check("mlp2", sys.argv[1])
    times.append(time.perf_counter() - start)
print(sorted(times)[len(times) // 2])
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="passed to bpgrade check")
    args = parser.parse_args()
    check = [sys.executable, "-m", "bpgrade", "check", str(REFERENCE), "-e", "mlp2",
             *(["--device", args.device] if args.device else [])]
    jax = [sys.executable, "-c", "import jax"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BPGRADE_CACHE_DIR": str(Path(tmp) / "xla"),
               "BPGRADE_STORE_DIR": str(Path(tmp) / "truth")}
        # Bytecode cached, as an installed package has it (jax's is, from its wheel).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cold = timed(check, env)  # fills the store and the cache
        times: dict[str, list[float]] = {"jax": [], "check": []}
        for _ in range(args.repeat):
            times["jax"].append(timed(jax, env))
            times["check"].append(timed(check, env))
        repeated = float(subprocess.run([sys.executable, "-c", REPEATED, str(REFERENCE)], check=True,
                                        capture_output=True, text=True, env=env).stdout)
    imports, warm = statistics.median(times["jax"]), statistics.median(times["check"])
    print(f"medians of {args.repeat} alternated runs")
    print(f'python -c "import jax":                    {imports:6.3f} s')
    print(f"bpgrade check, truth stored, cache warm:   {warm:6.3f} s")
    print(f"bpgrade check, nothing stored, cache cold: {cold:6.3f} s")
    print(f"bpgrade.check again in one process:        {repeated:6.3f} s")
    print(f'check (stored) / "import jax":             {warm / imports:6.2f}x')
    for name, runs in times.items():
        print(f"  {name} runs: " + ", ".join(f"{t:.3f}" for t in runs))


if __name__ == "__main__":
    main()
