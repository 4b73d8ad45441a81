"""How long `bpgrade check` takes a student, cold and with the compilation cache.

Runs the real command line on the reference solution of mlp2, several times
each way, and prints the median wall time and the ratio.

    python benchmarks/check_latency.py [--repeat 5] [--device cpu|gpu|tpu]
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


def timed(env: dict[str, str], device: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpgrade", "check", str(ROOT / "solutions" / "mlp2.py"), "-e", "mlp2",
                    *device], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="passed to bpgrade check")
    args = parser.parse_args()
    device = ["--device", args.device] if args.device else []
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jax, numpy"], check=True, capture_output=True)
    imports = time.perf_counter() - start
    cold = statistics.median(timed({**os.environ, "BPGRADE_CACHE_DIR": ""}, device) for _ in range(args.repeat))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "BPGRADE_CACHE_DIR": cache}
        timed(env, device)  # fills the cache
        warm = statistics.median(timed(env, device) for _ in range(args.repeat))
    print(f"python -c 'import jax, numpy':        {imports:6.2f} s")
    print(f"bpgrade check, no compilation cache:  {cold:6.2f} s")
    print(f"bpgrade check, warm cache:            {warm:6.2f} s")
    print(f"speed-up from the cache:              {cold / warm:6.2f}x")


if __name__ == "__main__":
    main()
