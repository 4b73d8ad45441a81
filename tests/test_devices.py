"""The truth and the grades are the same on an accelerator as on the CPU.

Skipped where JAX sees no GPU or TPU (CI has none); run on a machine that has
one, they check that float64 and Precision.HIGHEST hold there, where the
default float32 matmul would use TF32 (GPU) or bfloat16 passes (TPU).
"""

import json
import subprocess

import jax
import numpy as np
import pytest

import bpgrade
from bpgrade import truth

from conftest import REFERENCE

WANTED = {n: n for n in ["w1", "b1", "w2", "b2", "x"]}


def _accelerator() -> str | None:
    for backend in ("gpu", "tpu"):
        try:
            jax.devices(backend)
            return backend
        except RuntimeError:
            pass
    return None


ACCELERATOR = _accelerator()
pytestmark = pytest.mark.skipif(ACCELERATOR is None, reason="no GPU or TPU on this machine")


@pytest.mark.parametrize("seed", [None, 1, 987654321])
def test_truth_on_the_accelerator_equals_the_cpu_truth_to_rounding(mlp2, seed):
    cases = bpgrade.generate_cases(mlp2, seed)
    on_cpu = truth.gradients(mlp2.model, WANTED, cases, truth.select_device("cpu"))
    on_acc = truth.gradients(mlp2.model, WANTED, cases, truth.select_device(ACCELERATOR))
    for c, a in zip(on_cpu, on_acc):
        for name in WANTED:
            assert a[name].dtype == np.float64
            scale = np.max(np.abs(c[name]))
            assert np.max(np.abs(a[name] - c[name])) <= 1e-13 * scale, name


def test_the_default_float32_matmul_on_the_accelerator_would_not_do(mlp2, public_cases):
    # What the truth guards against: the backend's default float32 product is
    # far outside the grading tolerance (1e-9), so a truth computed that way
    # would fail right answers.
    case = public_cases[-1]
    x, w = (jax.device_put(case.tensors[k].astype(np.float32), truth.select_device(ACCELERATOR))
            for k in ("x", "w1"))
    default = np.asarray(jax.jit(jax.numpy.matmul)(x, w), np.float64)
    exact = case.tensors["x"] @ case.tensors["w1"]
    assert np.max(np.abs(default - exact)) > 1e-9 * np.max(np.abs(exact))


@pytest.mark.parametrize("wrong", [False, True])
def test_check_grades_the_same_on_the_accelerator(cli_env, bpgrade_cmd, tmp_path, wrong):
    submission = REFERENCE
    if wrong:  # the ReLU mask taken from the output: w1, b1 and x fail
        submission = tmp_path / "wrong.py"
        submission.write_text(REFERENCE.read_text().replace("* (u1 > 0)", "* (l2 > 0)"))
    records = {}
    for device in ("cpu", ACCELERATOR):
        out = subprocess.run([*bpgrade_cmd, "check", str(submission), "-e", "mlp2", "--seed", "7",
                              "--device", device, "--format", "json"],
                             capture_output=True, text=True, env=cli_env, timeout=300)
        record = json.loads(out.stdout)
        assert record["device"] == device
        records[device] = record
    cpu, acc = records["cpu"], records[ACCELERATOR]
    assert [(t["name"], t["passed"], t["cases_passed"]) for t in cpu["targets"]] == \
        [(t["name"], t["passed"], t["cases_passed"]) for t in acc["targets"]]
    assert cpu["score"] == acc["score"] == (2.0 if wrong else 5.0)
