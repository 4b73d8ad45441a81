"""The wheel built from pyproject.toml: every shipped pack and doc inside, and not a warning printed."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT


def test_the_wheel_holds_the_packs_and_docs_and_its_build_prints_no_warning(tmp_path):
    pytest.importorskip("setuptools")
    # A copy of what the build reads (it writes build/ and *.egg-info beside pyproject.toml), links kept:
    # bpgrade/exercises and bpgrade/docs are links to the top-level folders, some references to solutions/.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("bpgrade", "exercises", "docs", "solutions"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # setuptools' BuildBackendWarning: "Package 'bpgrade.exercises.graph' is absent from the packages configuration".
    assert "Warning" not in proc.stdout + proc.stderr
    [wheel] = (tmp_path / "dist").glob("bpgrade-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bpgrade/cli.py", "bpgrade/docs/authoring.md", "bpgrade/exercises/mlp2/exercise.yaml",
            "bpgrade/exercises/mlp2/selftest/reference.py", "bpgrade/exercises/makemore-backprop/harness.py",
            "bpgrade/exercises/makemore-backprop/selftest/reference.py",
            "bpgrade/exercises/cs231n-twolayer/selftest/reference/cs231n/classifiers/fc_net.py",
            "bpgrade/exercises/dls-planar/support/planar_utils.py"} <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
