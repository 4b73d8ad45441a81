"""PyTorch tensors as an array library, with torch's autograd refused: mlp2 and the worked example's own code."""

import textwrap

import pytest

import bpgrade
from bpgrade.gradebook import Gradebook
from bpgrade.grader import grade
from bpgrade.submissions import collect

from conftest import REFERENCE

torch = pytest.importorskip("torch")

# The worked example's backward pass, in torch, by hand: gradients stored in .g.
WORKED = '''
import torch


def lin(x, w, b):
    return x @ w + b


def forward_and_backward(x, y, params):
    x = torch.from_numpy(x)
    y = torch.from_numpy(y)
    w1, b1, w2, b2 = (torch.from_numpy(params[k]) for k in ("w1", "b1", "w2", "b2"))
    l1 = lin(x, w1, b1)
    l2 = l1.clamp_min(0.)
    out = lin(l2, w2, b2)
    diff = out - y
    loss = diff.pow(2).mean()
    diff.g = 2. * diff / diff.numel()
    out.g = diff.g
    l2.g = out.g @ w2.t()
    w2.g = l2.t() @ out.g
    b2.g = out.g.sum(0)
    l1.g = l2.g * (l1 > 0).float()
    w1.g = x.t() @ l1.g
    b1.g = l1.g.sum(0)
    x.g = l1.g @ w1.t()
    return {"w1": w1.g, "b1": b1.g, "w2": w2.g, "b2": b2.g, "x": x.g}


def grad_w1(x, y, params):
    return forward_and_backward(x, y, params)["w1"]


def grad_b1(x, y, params):
    return forward_and_backward(x, y, params)["b1"]


def grad_w2(x, y, params):
    return forward_and_backward(x, y, params)["w2"]


def grad_b2(x, y, params):
    return forward_and_backward(x, y, params)["b2"]


def grad_x(x, y, params):
    return forward_and_backward(x, y, params)["x"]
'''

AUTOGRAD = '''
import torch


def _grads(x, y, params):
    t = {k: torch.tensor(v) for k, v in params.items()}
    x = torch.tensor(x)
    {setup}
    out = torch.relu(x @ t["w1"] + t["b1"]) @ t["w2"] + t["b2"]
    loss = ((out - torch.tensor(y)) ** 2).mean()
    {route}


def grad_w1(x, y, params):
    return _grads(x, y, params)


grad_b1 = grad_w2 = grad_b2 = grad_x = grad_w1
'''

ROUTES = {
    "Tensor.backward": ('t["w1"].requires_grad = False', 'loss.backward()\n    return t["w1"].grad'),
    "Tensor.requires_grad_": ('t["w1"].requires_grad_()', 'return x'),
    "Tensor.requires_grad = True": ('t["w1"].requires_grad = True', 'return x'),
    "torch.autograd.grad": ('pass', 'return torch.autograd.grad(loss, [t["w1"]])[0]'),
    "torch.autograd.backward": ('pass', 'torch.autograd.backward([loss])\n    return x'),
    "torch.autograd.functional.jacobian": (
        'pass', 'return torch.autograd.functional.jacobian(lambda w: (x @ w).sum(), t["w1"])'),
    "torch.enable_grad": ('ctx = torch.enable_grad()', 'return x'),
    "torch.set_grad_enabled(True)": ('torch.set_grad_enabled(True)', 'return x'),
    "torch._C._set_grad_enabled": ('torch._C._set_grad_enabled(True)', 'return x'),
    "torch._C._set_fwd_grad_enabled": ('torch._C._set_fwd_grad_enabled(True)', 'return x'),
    "the autograd engine": ('pass', 'torch.autograd.variable.Variable._execution_engine.run_backward('
                                    '(loss,), (torch.tensor(1.0),), False, False, (), False, False)\n    return x'),
    "torch.func.grad": ('pass', 'return torch.func.grad(lambda w: (x @ w).sum())(t["w1"])'),
    "torch.func.vjp": ('pass', 'return torch.func.vjp(lambda w: (x @ w).sum(), t["w1"])[1](torch.tensor(1.0))[0]'),
    "torch.autograd.forward_ad.dual_level": (
        'import torch.autograd.forward_ad as fwAD', 'with fwAD.dual_level():\n        return x'),
    "a result tensor that requires grad": ('pass', 'return torch.zeros(x.shape[1], 1, dtype=torch.float64, '
                                                     'requires_grad=True)'),
}


def submit(tmp_path, source, name="sub.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return bpgrade.check("mlp2", path)


FLOAT32 = (WORKED.replace("x = torch.from_numpy(x)", "x = torch.from_numpy(x).float()")
           .replace("(torch.from_numpy(params[k])", "(torch.from_numpy(params[k]).float()")
           .replace("y = torch.from_numpy(y)", "y = torch.from_numpy(y).float()"))

#: Submissions graded in one batch with the routes (one fork server, which loads torch once).
BATCH = {
    "worked": WORKED,
    "backward": WORKED.replace("    diff.g = 2. * diff / diff.numel()",
                               "    for p in (w1, b1, w2, b2):\n        p.requires_grad_()\n    loss.backward()\n"
                               "    diff.g = 2. * diff / diff.numel()"),
    "float32": FLOAT32,
    "memory": WORKED.replace("def grad_w1(x, y, params):\n",
                             "def grad_w1(x, y, params):\n    torch.ones(400_000_000, dtype=torch.float64)\n"),
    # NumPy code names no torch (the name is built): the server must not have loaded it for it.
    "numpy": REFERENCE.read_text() + '\nimport sys\nprint("loaded:", "tor" + "ch" in sys.modules)\n',
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torch-batch")
    for i, (setup, returns) in enumerate(ROUTES.values()):
        (folder / f"route{i}.py").write_text(AUTOGRAD.replace("{setup}", setup).replace("{route}", returns))
    for name, source in BATCH.items():
        (folder / f"{name}.py").write_text(source)
    with Gradebook(folder / "book.db") as book:
        grade("mlp2", collect([folder]), book)
        return {r.submission: r for r in book.reports()}


def test_the_worked_example_in_torch_passes_mlp2(graded):
    assert graded["worked"].status == "ok" and graded["worked"].score == 5, graded["worked"]


def test_the_same_with_loss_backward_is_forbidden(graded):
    report = graded["backward"]
    assert report.status == "forbidden" and report.score == 0
    assert "Tensor.requires_grad_" in report.message and "automatic differentiation" in report.message


@pytest.mark.parametrize("route", ROUTES)
def test_each_route_into_autograd_is_forbidden_with_its_name(graded, route):
    report = graded[f"route{list(ROUTES).index(route)}"]
    assert report.status == "forbidden", (route, report.status, report.message)
    assert route in report.message and report.score == 0


def test_a_numpy_submission_beside_torch_ones_passes(graded):
    # In a batch where others use torch, a NumPy submission's worker may find it loaded; alone, never (below).
    assert graded["numpy"].score == 5


def test_a_numpy_submission_alone_does_not_load_torch(tmp_path):
    report = submit(tmp_path, BATCH["numpy"])
    assert report.score == 5 and report.output.strip() == "loaded: False", report.output


def test_a_float32_tensor_result_is_diagnosed_as_precision(graded):
    report = graded["float32"]
    assert report.status == "ok" and report.score < 5
    assert {r.diagnosis.code for r in report.targets if not r.passed} == {"precision"}


def test_the_memory_limit_still_holds_with_torch_loaded(graded):
    w1 = {r.name: r for r in graded["memory"].targets}["w1"]
    assert not w1.passed and w1.diagnosis.code == "memory", w1
    assert graded["memory"].score == 4


def test_an_autograd_call_in_a_left_out_cell_does_not_count(tmp_path):
    import json

    cells = [WORKED, "import numpy as np\nx = np.ones((2, 3))\nloss = forward_and_backward\nloss.backward()"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": cell} for cell in cells]}
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    report = bpgrade.check("mlp2", tmp_path / "nb.ipynb")
    assert report.status == "ok" and report.score == 5, report


def test_without_torch_installed_a_torch_submission_is_told_how_to_install_it(tmp_path, monkeypatch):
    from bpgrade import _torch

    monkeypatch.setattr(_torch, "installed", lambda: False)
    report = submit(tmp_path, WORKED)
    assert report.status == "error" and "pip install 'bpgrade[torch]'" in report.message
    assert report.message.count("\n") == 0


def test_grad_mode_turned_on_by_a_route_no_guard_knows_is_caught_after_the_call():
    import subprocess
    import sys

    code = ("from bpgrade import _torch; _torch.prepare(); _torch._real_set_grad_enabled(True); "
            "_torch.check_grad_mode(); import torch; print(_torch.USED, torch.is_grad_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "['grad mode turned on'] False", out.stderr


def test_a_float32_pack_passes_float32_results(tmp_path):
    import shutil

    from bpgrade.packs import SHIPPED_DIR

    pack = shutil.copytree(SHIPPED_DIR / "mlp2", tmp_path / "mlp2-32")
    yaml = pack / "exercise.yaml"
    text = yaml.read_text()
    yaml.write_text(text[:text.index("tolerance:")] + "precision: float32\n" + text[text.index("timeout:"):])
    loaded = bpgrade.load_pack(pack)
    assert (loaded.tolerance.rtol, loaded.tolerance.atol) == (1e-4, 1e-6)
    single = FLOAT32
    (tmp_path / "single.py").write_text(single)
    assert bpgrade.check(loaded, tmp_path / "single.py").score == 5
    # A real mistake is still far outside float32's tolerance.
    (tmp_path / "wrong.py").write_text(single.replace("diff.g = 2. * diff", "diff.g = 1. * diff"))
    assert bpgrade.check(loaded, tmp_path / "wrong.py").score == 0


def test_a_pack_whose_arguments_are_tensors_says_how_to_install_torch_without_it(tmp_path, monkeypatch):
    from bpgrade import _torch
    from bpgrade.errors import BpgradeError

    monkeypatch.setattr(_torch, "installed", lambda: False)
    (tmp_path / "any.py").write_text("")
    with pytest.raises(BpgradeError, match=r"fastai-backprop: .* pip install 'bpgrade\[torch\]'"):
        bpgrade.check("fastai-backprop", tmp_path / "any.py", seed=5)


def test_loading_torch_for_a_submission_does_not_count_against_its_time(tmp_path):
    # The server loads torch (about 2 s) when the first torch submission comes: its limit starts at its fork.
    path = tmp_path / "worked.py"
    path.write_text(WORKED)
    report = bpgrade.check("mlp2", path, timeout=0.8)
    assert report.status == "ok" and report.score == 5, report.message
