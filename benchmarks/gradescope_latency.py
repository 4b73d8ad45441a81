"""What a Gradescope submission costs: the autograder zip set up as Gradescope does, then
run_autograder timed with the truth store (and compiled programs) that setup.sh leaves in the
image, and without them.

Lays out /autograder in a temporary folder, runs the zip's real setup.sh (it makes a virtual
environment and installs bpgrade and its dependencies from the package index: a minute or
so), then runs run_autograder on a wrong mlp2 solution (so that diagnosis runs too).

    python benchmarks/gradescope_latency.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from bpgrade import gradescope

ROOT = Path(__file__).resolve().parent.parent
WRONG = ROOT / "exercises" / "mlp2" / "selftest" / "relu_mask_left_out.py"


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "autograder"
        source = root / "source"
        for folder in (source, root / "submission", root / "results"):
            folder.mkdir(parents=True)
        gradescope.bundle("mlp2", Path(tmp) / "autograder.zip")
        with zipfile.ZipFile(Path(tmp) / "autograder.zip") as z:
            z.extractall(source)
        shutil.copy(source / "run_autograder", root / "run_autograder")
        (root / "run_autograder").chmod(0o755)
        setup = timed(["bash", "setup.sh"], cwd=source)
        shutil.copy(WRONG, root / "submission" / "hw.py")
        run = [str(root / "run_autograder")]
        warm = statistics.median(timed(run, cwd=root) for _ in range(args.repeat))
        kept = [source / "xla-cache", source / "truth-store"]
        for folder in kept:
            shutil.move(folder, Path(tmp) / f"kept-{folder.name}")
        cold = []
        for _ in range(args.repeat):
            cold.append(timed(run, cwd=root))
            for folder in kept:
                shutil.rmtree(folder, ignore_errors=True)
    print(f"setup.sh (venv, install, prepare, self-test): {setup:.1f} s")
    print(f"run_autograder, median of {args.repeat}: {warm:.2f} s with the image's truth store, "
          f"{statistics.median(cold):.2f} s without ({statistics.median(cold) / warm:.1f}x)")


if __name__ == "__main__":
    main()
