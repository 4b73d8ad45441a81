"""How far the truth on an accelerator is from the CPU truth, and what it costs.

For several case sets of mlp2, computes the truth on the CPU and on the first
GPU or TPU, and prints the largest difference relative to each target's largest
entry, next to the error of the backend's default float32 matmul (what a truth
without float64 and Precision.HIGHEST would carry) and the time per case set.

    python benchmarks/device_agreement.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import numpy as np

import bpgrade
from bpgrade import truth

TARGETS = ["w1", "b1", "w2", "b2", "x"]
WANTED = {n: n for n in TARGETS}


def timed_gradients(pack, cases, device) -> tuple[list[dict[str, np.ndarray]], float]:
    truth.gradients(pack.model, WANTED, cases, device)  # compiles
    start = time.perf_counter()
    grads = truth.gradients(pack.model, WANTED, cases, device)
    return grads, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    accelerator = next((b for b in ("gpu", "tpu") if b in {d.platform for d in jax.devices()}), None)
    if accelerator is None:
        sys.exit("no GPU or TPU on this machine")
    cpu, acc = truth.select_device("cpu"), truth.select_device(accelerator)
    pack = bpgrade.load_pack("mlp2")
    worst, f32_worst, cpu_time, acc_time = 0.0, 0.0, 0.0, 0.0
    for seed in range(args.seeds):
        cases = bpgrade.generate_cases(pack, seed)
        on_cpu, t_cpu = timed_gradients(pack, cases, cpu)
        on_acc, t_acc = timed_gradients(pack, cases, acc)
        cpu_time, acc_time = cpu_time + t_cpu, acc_time + t_acc
        for case, c, a in zip(cases, on_cpu, on_acc):
            for name in TARGETS:
                worst = max(worst, float(np.max(np.abs(a[name] - c[name])) / np.max(np.abs(c[name]))))
            x, w = (jax.device_put(case.tensors[k].astype(np.float32), acc) for k in ("x", "w1"))
            exact = case.tensors["x"] @ case.tensors["w1"]
            f32 = np.asarray(jax.numpy.matmul(x, w), np.float64)
            f32_worst = max(f32_worst, float(np.max(np.abs(f32 - exact)) / np.max(np.abs(exact))))
    n = args.seeds * len(cases)
    print(f"{accelerator}: {acc.device_kind}; jax {jax.__version__}; {args.seeds} case sets, {n} cases")
    print(f"truth, {accelerator} vs cpu, max |diff| / max |truth|:      {worst:.2e}")
    print(f"default float32 matmul on {accelerator}, same measure:      {f32_worst:.2e}")
    print(f"grading tolerance (rtol):                         {pack.tolerance.rtol:.0e}")
    print(f"truth per case set: cpu {cpu_time / args.seeds * 1e3:.1f} ms, "
          f"{accelerator} {acc_time / args.seeds * 1e3:.1f} ms (ratio {acc_time / cpu_time:.2f})")


if __name__ == "__main__":
    main()
