"""How many of the shipped wrong solutions get a specific diagnosis, and what diagnosis costs.

Grades every pack's self-test solutions in the sandbox (the public cases and
two more seeds), as `bpgrade selftest` does, and prints, per pack: the failing
targets of its wrong solutions, how many got a specific diagnosis (a code, not
null), how many got the code the solution declares, and how many diagnoses
the reference solutions got (must be 0); then the same count with the packs'
mistake models taken away (the generic checks alone). Then, per pack, its
reference solution's results made float32, and central differences of its
loss (step 1e-5, as a student's numerical "derivation" would take them): how
many failing targets got ``precision``, and whether any got another code
(must be none). Then it times `bpgrade check` of a wrong and of the right mlp2
solution, without and with the compilation cache, and prints the ratios.

    python benchmarks/diagnosis_coverage.py [--seeds public,1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

import bpgrade
from bpgrade import selftest

ROOT = Path(__file__).resolve().parent.parent


def check_seconds(solution: Path, cache: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bpgrade", "check", str(solution), "-e", "mlp2"],
                   capture_output=True, env={**os.environ, "BPGRADE_CACHE_DIR": cache})
    return time.perf_counter() - start


def coverage(pack: bpgrade.Pack, seeds: list[int | None], codes: Counter) -> Counter:
    """Counts for one pack: solutions, failing targets, specific and declared diagnoses, reference diagnoses."""
    row = Counter()
    for outcome in selftest.run(pack, seeds):
        if not outcome.solution.fails:
            row["reference"] += sum(r.diagnosis is not None for r in outcome.report.targets)
            continue
        row["solutions"] += 1
        for target in sorted(outcome.failed):
            leaves = [r for r in outcome.report.targets
                      if not r.passed and selftest.target_of(r.name, [target]) == target]
            got = {r.diagnosis.code if r.diagnosis else None for r in leaves}
            row["failing"] += 1
            row["specific"] += None not in got
            row["declared"] += got == {outcome.solution.diagnoses.get(target)}
            codes.update(got - {None})
    return row


def spoiled(pack: bpgrade.Pack, spoil) -> dict:
    """The pack's reference solution's functions with ``spoil`` applied to every array they return."""
    namespace: dict = {}
    reference = pack.root / selftest.SELFTEST_DIR / selftest.REFERENCE
    exec(compile(reference.read_text(), str(reference), "exec"), namespace)

    def tree(value):
        if isinstance(value, dict):
            return {k: tree(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [tree(v) for v in value]
        return spoil(np.asarray(value, dtype=np.float64))

    return {t.name: (lambda *a, f=namespace[t.function]: tree(f(*a))) for t in pack.targets}


def central_differences(pack: bpgrade.Pack, step: float = 1e-5) -> dict:
    """Functions that return central differences of the pack's loss (computed here, once per
    case, and looked up by the inputs they are called with: a submission's numerical derivation)."""
    import jax
    from jax.flatten_util import ravel_pytree

    from bpgrade import truth

    answers: dict[bytes, dict] = {}
    with jax.enable_x64(True):
        for case in bpgrade.generate_cases(pack):
            tensors = jax.tree.map(jax.numpy.asarray, dict(case.tensors))
            zeros = jax.tree.map(jax.numpy.zeros_like, truth.loss_and_taps(pack.model, tensors)[1])
            found = {}
            for target in pack.targets:
                if target.of in tensors:
                    base, rebuild = ravel_pytree(tensors[target.of])
                    loss = jax.jit(lambda v, of=target.of: truth._tapped(pack.model, {**tensors, of: rebuild(v)},
                                                                         zeros)[0])
                else:
                    base, rebuild = ravel_pytree(zeros[target.of])
                    loss = jax.jit(lambda v, of=target.of: truth._tapped(pack.model, tensors,
                                                                         {**zeros, of: rebuild(v)})[0])
                grad = [(loss(base.at[i].add(step)) - loss(base.at[i].add(-step))) / (2 * step)
                        for i in range(base.size)]
                found[target.name] = jax.tree.map(np.asarray, rebuild(jax.numpy.asarray(grad)))
            answers[_key([case.tensors[n] for n in pack.inputs])] = found
    return {t.name: (lambda *a, name=t.name: answers[_key(a[:len(pack.inputs)])][name]) for t in pack.targets}


def _key(inputs) -> bytes:
    return b"".join(np.asarray(a).tobytes() for a in inputs)


def precision_check() -> None:
    """Float32 results and central differences get `precision` and nothing else, on every pack."""
    print(f"\n{'pack':12} {'float32: failing':>16} {'precision':>9} {'differences: failing':>20} {'precision':>9}")
    others = []
    for name in bpgrade.packs.shipped_packs():
        pack = bpgrade.load_pack(name)
        row = []
        for functions in (spoiled(pack, lambda v: v.astype(np.float32)), central_differences(pack)):
            report = bpgrade.check(pack, functions)
            failed = [t for t in report.targets if not t.passed]
            row += [len(failed), sum(t.diagnosis is not None and t.diagnosis.code == "precision" for t in failed)]
            others += [(name, t.name, t.diagnosis and t.diagnosis.code) for t in failed
                       if t.diagnosis is None or t.diagnosis.code != "precision"]
        print(f"{name:12} {row[0]:16} {row[1]:9} {row[2]:20} {row[3]:9}")
    print(f"failing targets with another diagnosis than precision: {others or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="public,1,2", help="comma-separated seeds; public: the public cases")
    parser.add_argument("--repeat", type=int, default=3, help="timings of bpgrade check, each way")
    args = parser.parse_args()
    seeds = [None if s == "public" else int(s) for s in args.seeds.split(",")]
    totals, generic = Counter(), Counter()
    codes = Counter()
    print(f"{'pack':12} {'wrong':>5} {'failing targets':>15} {'specific':>8} {'as declared':>11} {'reference':>9}")
    for name in bpgrade.packs.shipped_packs():
        pack = bpgrade.load_pack(name)
        row = coverage(pack, seeds, codes)
        generic.update(coverage(dataclasses.replace(pack, mistakes=()), seeds, Counter()))
        totals.update(row)
        print(f"{name:12} {row['solutions'] // len(seeds):5} {row['failing']:15} {row['specific']:8} "
              f"{row['declared']:11} {row['reference']:9}")
    print(f"{'all':12} {totals['solutions'] // len(seeds):5} {totals['failing']:15} {totals['specific']:8} "
          f"{totals['declared']:11} {totals['reference']:9}")
    share = totals["specific"] / totals["failing"]
    print(f"\n{totals['specific']} of {totals['failing']} failing targets of the wrong solutions ({share:.0%}) got a "
          f"specific diagnosis on {len(seeds)} seeds; correct solutions got {totals['reference']} diagnoses.")
    print(f"Without the packs' mistake models (generic checks alone): {generic['specific']} of "
          f"{generic['failing']}.")
    print("codes: " + ", ".join(f"{code} {n}" for code, n in codes.most_common()))
    precision_check()
    wrong = ROOT / "exercises" / "mlp2" / "selftest" / "relu_mask_left_out.py"
    right = ROOT / "solutions" / "mlp2.py"
    with tempfile.TemporaryDirectory() as warm:
        for cache, label in (("", "no compilation cache"), (warm, "compilation cache warm")):
            check_seconds(wrong, cache), check_seconds(right, cache)
            t_wrong = statistics.median(check_seconds(wrong, cache) for _ in range(args.repeat))
            t_right = statistics.median(check_seconds(right, cache) for _ in range(args.repeat))
            print(f"bpgrade check mlp2, {label}: wrong (diagnosed) {t_wrong:.2f} s, right {t_right:.2f} s, "
                  f"ratio {t_wrong / t_right:.2f}")


if __name__ == "__main__":
    main()
