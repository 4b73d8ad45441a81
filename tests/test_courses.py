"""Real courses' code, as students write it (tests/submissions/courses), graded by the shipped packs as written."""

import importlib.util
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

import bpgrade

COURSES = Path(__file__).parent / "submissions" / "courses"


def passes_everything(report):
    return report.status == "ok" and all(r.passed for r in report.targets) and report.score == report.max_score


def test_a_cs231n_layers_file_is_graded_as_written():
    report = bpgrade.check("cs231n-layers", COURSES / "cs231n_layers.py")
    assert passes_everything(report), report
    assert len(report.targets) == 11
    # Its batchnorm_backward returns dgamma and dbeta of shape (1, D), as the course's checks accept.
    dgamma = {r.name: r for r in report.targets}["batchnorm_backward.dgamma"]
    assert "taken as" in dgamma.message and "(axes of size 1)" in dgamma.message


def test_the_same_layers_in_an_assignment_folder(tmp_path):
    folder = tmp_path / "assignment2" / "cs231n"
    folder.mkdir(parents=True)
    shutil.copyfile(COURSES / "cs231n_layers.py", folder / "layers.py")
    (folder / "__init__.py").write_text("")
    (folder / "im2col.py").write_text("from past.builtins import xrange\nimport numpy as np\n")
    report = bpgrade.check("cs231n-layers", tmp_path / "assignment2")
    assert passes_everything(report), report


def test_a_cs231n_layers_bug_the_gradient_check_would_catch_is_named(tmp_path):
    source = (COURSES / "cs231n_layers.py").read_text().replace("dx /= N\n    return loss, dx", "return loss, dx")
    (tmp_path / "layers.py").write_text(source)
    report = bpgrade.check("cs231n-layers", tmp_path / "layers.py")
    failed = [r for r in report.targets if not r.passed]
    assert [r.name for r in failed] == ["softmax_loss.dx"] and failed[0].diagnosis.code == "scale"


def test_a_cs231n_neural_net_file_is_graded_as_written():
    report = bpgrade.check("cs231n-neuralnet", COURSES / "cs231n_neural_net.py")
    assert passes_everything(report), report


def test_a_cs231n_neural_net_with_the_2020_regularisation_is_diagnosed(tmp_path):
    source = (COURSES / "cs231n_neural_net.py").read_text().replace("+= 2 * reg *", "+= reg *")
    (tmp_path / "neural_net.py").write_text(source)
    report = bpgrade.check("cs231n-neuralnet", tmp_path / "neural_net.py")
    failed = {r.name: r for r in report.targets if not r.passed}
    assert set(failed) == {"W1", "W2"}
    assert "0.5·reg·ΣW²" in failed["W1"].diagnosis.text


def test_a_cs231n_assignment_folder_and_its_zip_are_graded_as_written(tmp_path):
    report = bpgrade.check("cs231n-twolayer", COURSES / "cs231n_assignment1")
    assert passes_everything(report), report
    archive = tmp_path / "a1_code_submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((COURSES / "cs231n_assignment1").rglob("*.py")):
            zf.write(path, path.relative_to(COURSES / "cs231n_assignment1"))
        zf.writestr("knn.ipynb", "{}")
    report = bpgrade.check("cs231n-twolayer", archive)
    assert passes_everything(report), report


def test_a_bug_in_the_students_layers_shows_in_the_two_layer_net(tmp_path):
    folder = tmp_path / "assignment1"
    shutil.copytree(COURSES / "cs231n_assignment1", folder)
    layers = folder / "cs231n" / "layers.py"
    layers.write_text(layers.read_text().replace("dx = dout * (x > 0)", "dx = dout"))
    report = bpgrade.check("cs231n-twolayer", folder)
    failed = {r.name: r for r in report.targets if not r.passed}
    assert set(failed) == {"W1", "b1"} and failed["W1"].diagnosis is not None


def test_the_dls_notebook_is_graded_as_submitted():
    report = bpgrade.check("dls-planar", COURSES / "dls_planar.ipynb")
    assert passes_everything(report), report
    # The training loops and plots were left out, not run.
    assert any("nn_model(X, Y, n_h = 4" in note for note in report.notes)


def test_the_dls_notebook_exported_to_python_is_graded_as_written(tmp_path):
    notebook = json.loads((COURSES / "dls_planar.ipynb").read_text())
    # As Jupyter's "Download as Python" writes it: markdown as comments, magics through get_ipython().
    parts = ["#!/usr/bin/env python\n# coding: utf-8\n"]
    for number, cell in enumerate(notebook["cells"], 1):
        if cell["cell_type"] == "markdown":
            parts.append("\n".join("# " + line for line in cell["source"].splitlines()) + "\n")
        else:
            code = re.sub(r"^%(\w+) ?(.*)$", r"get_ipython().run_line_magic('\1', '\2')", cell["source"], flags=re.M)
            parts.append(f"# In[{number}]:\n\n\n{code}\n")
    (tmp_path / "planar.py").write_text("\n\n".join(parts))
    report = bpgrade.check("dls-planar", tmp_path / "planar.py")
    assert passes_everything(report), report
    # Graded like the notebook: its training loop and its course-era accuracy line were left out.
    assert any("nn_model(X, Y, n_h = 4" in note for note in report.notes)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_the_fastai_lesson_notebook_is_graded_as_submitted():
    report = bpgrade.check("fastai-backprop", COURSES / "fastai_03_backprop.ipynb")
    assert passes_everything(report), report
    # MNIST's cells and the autograd check (loss.backward()) were left out, not run: not forbidden.
    notes = "\n".join(report.notes)
    assert "`loss.backward()` (line 2)" in notes and "left out `w1 = torch.randn(m,nh)`" in notes
    assert "cpuinfo" not in report.output and report.output == ""
