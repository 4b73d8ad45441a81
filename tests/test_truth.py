"""The ground truth: jax.grad of the pack's loss, float64, highest precision."""

import os

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

from bpgrade import networks, truth
from bpgrade.cases import generate_cases
from bpgrade.errors import DeviceError
from bpgrade.packs import load_pack

TARGETS = ["w1", "b1", "w2", "b2", "x"]
WANTED = {n: n for n in TARGETS}


def hand_gradients(t):
    """The worked example's backward pass, written out in NumPy."""
    u1 = t["x"] @ t["w1"] + t["b1"]
    l1 = np.maximum(u1, 0)
    l2 = l1 @ t["w2"] + t["b2"]
    e2 = 2 * (l2 - t["y"]) / len(t["x"])
    e1 = (e2 @ t["w2"].T) * (u1 > 0)
    return {"w1": t["x"].T @ e1, "b1": e1.sum(0), "w2": l1.T @ e2, "b2": e2.sum(0), "x": e1 @ t["w1"].T}


def test_truth_matches_finite_differences(mlp2, public_cases):
    loss = jax.jit(lambda t: networks.loss(mlp2.network, t))
    with jax.enable_x64(True):
        for case in public_cases[::mlp2.cases.per_shape]:  # one case of each shape
            check_grads(loss, (dict(case.tensors),), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_truth_matches_the_hand_computation(mlp2, public_cases):
    got = truth.gradients(mlp2.model, WANTED, public_cases)
    for case, g in zip(public_cases, got):
        want = hand_gradients(case.tensors)
        for name in TARGETS:
            assert g[name].dtype == np.float64
            assert g[name].shape == want[name].shape
            np.testing.assert_allclose(g[name], want[name], rtol=1e-12, atol=1e-15)


def test_truth_is_float64_even_outside_an_x64_context(mlp2, public_cases):
    assert not jax.config.jax_enable_x64
    g = truth.gradients(mlp2.model, {"w1": "w1"}, public_cases[:2])
    assert g[0]["w1"].dtype == np.float64
    # float32 would be off by ~1e-7 relative; float64 agrees with NumPy to rounding.
    want = hand_gradients(public_cases[0].tensors)["w1"]
    assert np.max(np.abs(g[0]["w1"] - want)) <= 1e-14 * np.max(np.abs(want))


def test_truth_programs_ask_for_the_highest_matmul_precision(mlp2, public_cases):
    # On a GPU the default would be TF32 and on a TPU bfloat16 passes: the
    # compiled program must name HIGHEST for every dot, whatever the context.
    stacked = {k: np.stack([public_cases[0].tensors[k]] * truth.BATCH) for k in public_cases[0].tensors}
    with jax.enable_x64(True), jax.default_matmul_precision("bfloat16"):
        text = truth._batched(mlp2.model, tuple(WANTED.items())).lower(stacked).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all("HIGHEST" in line for line in dots), dots


def test_evaluate_returns_the_tapped_activation_inputs(mlp2, public_cases):
    case = public_cases[5]
    stacked = {k: v[None] for k, v in case.tensors.items()}
    ev = truth.evaluate(mlp2.model, {"b2": "b2"}, stacked)
    np.testing.assert_allclose(ev.taps["act0"][0], case.tensors["x"] @ case.tensors["w1"] + case.tensors["b1"],
                               rtol=1e-14)
    assert ev.grads["b2"].shape == (1, 1)


def test_batches_of_any_size_give_the_same_truth(mlp2, public_cases):
    one = truth.gradients(mlp2.model, WANTED, public_cases[:1])
    many = truth.gradients(mlp2.model, WANTED, public_cases)
    for name in TARGETS:
        np.testing.assert_array_equal(one[0][name], many[0][name])


def test_select_device():
    assert truth.select_device("cpu").platform == "cpu"
    assert truth.select_device(None) == jax.devices()[0]
    with pytest.raises(DeviceError, match="unknown device"):
        truth.select_device("abacus")
    if not any(d.platform == "tpu" for d in jax.devices()):
        with pytest.raises(DeviceError, match="no tpu device"):
            truth.select_device("tpu")


def test_a_failing_device_is_a_device_error(mlp2, public_cases, monkeypatch):
    def out_of_memory(tensors):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: CUDA_ERROR_OUT_OF_MEMORY: out of memory\nmore")

    monkeypatch.setattr(truth, "_batched", lambda network, wrt: out_of_memory)
    stacked = {k: v[None] for k, v in public_cases[0].tensors.items()}
    with pytest.raises(DeviceError, match=r"on cpu failed: RESOURCE_EXHAUSTED: .* out of memory$"):
        truth.evaluate(mlp2.model, {"b2": "b2"}, stacked, truth.select_device("cpu"))


def test_the_command_line_leaves_accelerator_memory_to_others(monkeypatch):
    from bpgrade.cli import share_accelerator

    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    share_accelerator()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")  # the user's own choice stays
    share_accelerator()
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"


def test_the_mistake_models_are_compiled_to_the_same_numbers_as_the_truth():
    # XLA's optimisation level 0 once gave a -inf in the gradient of a max (makemore-backprop's
    # dlogits, seed 1, case 2): a wrong mistake model is a wrong diagnosis.
    pack = load_pack("makemore-backprop")
    case = generate_cases(pack, seed=1)[2]
    wanted = {t.name: t.of for t in pack.targets}
    mistake = pack.mistakes[0].model
    variant = truth.variant_gradients([mistake], wanted, [case])[0][0]
    exact = truth.gradients(mistake, wanted, [case])[0]
    for name in wanted:
        np.testing.assert_allclose(variant[name], exact[name], rtol=1e-12, atol=1e-15, err_msg=name)
