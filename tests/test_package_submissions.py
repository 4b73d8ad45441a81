"""Submissions that are packages (an assignment folder, or its .zip) with relative imports."""

import os
import stat
import textwrap
import zipfile

import pytest

import bpgrade
from bpgrade.errors import SubmissionError
from bpgrade.gradebook import Gradebook
from bpgrade.grader import grade
from bpgrade.submissions import collect

MODEL = '''
import jax.numpy as jnp


def loss(x, params, tap):
    return jnp.sum(jnp.tanh(x @ params["W"]))
'''

# As CS231n's TwoLayerNet: a class whose __init__ draws weights, whose loss returns (loss, grads).
HARNESS = '''
def grads(student, x, params):
    net = object.__new__(student.Net)
    net.params = {"W": params["W"]}
    _, found = net.loss(x)
    return found
'''

YAML = '''
name: netpack
dims: {N: [2, 3], D: [2, 3], M: [2, 3]}
inputs: {x: [N, D]}
params: {W: [D, M]}
model: model.py
harness: harness.py
module: course.classifiers.net
modules: {course.helpers: support/helpers.py}
targets:
  W: {call: grads, function: Net.loss}
cases: {shapes: 2, per_shape: 2}
'''

FILES = {
    "course/__init__.py": "",
    "course/layers.py": '''
        import numpy as np
        from course.helpers import square


        def tanh_backward(dout, y):
            return dout * (1 - square(y))
    ''',
    "course/classifiers/net.py": '''
        import numpy as np
        from ..layers import *


        class Net:
            def __init__(self):
                raise RuntimeError("the grader must not run __init__")

            def loss(self, x):
                y = np.tanh(x @ self.params["W"])
                dz = tanh_backward(np.ones_like(y), y)
                return y.sum(), {"W": x.T @ dz}
    ''',
}


@pytest.fixture
def pack(tmp_path):
    folder = tmp_path / "netpack"
    (folder / "support").mkdir(parents=True)
    for name, text in {"model.py": MODEL, "harness.py": HARNESS, "README.md": "# net\n", "template.py": "",
                       "exercise.yaml": YAML, "support/helpers.py": "def square(v):\n    return v * v\n"}.items():
        (folder / name).write_text(text)
    return bpgrade.load_pack(folder)


def write_folder(root, files=FILES):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def write_zip(path, files=FILES, prefix="assignment2/"):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(prefix + name, textwrap.dedent(text))
    return path


def test_a_folder_with_relative_imports_is_graded_as_a_package(tmp_path, pack):
    report = bpgrade.check(pack, write_folder(tmp_path / "alice"))
    assert report.status == "ok" and report.score == report.max_score, report


def test_a_zip_is_graded_as_a_package(tmp_path, pack):
    report = bpgrade.check(pack, write_zip(tmp_path / "bob.zip"))
    assert report.status == "ok" and report.score == report.max_score, report


def test_an_error_names_the_file_and_line_of_the_package(tmp_path, pack):
    files = {**FILES, "course/layers.py": FILES["course/layers.py"].replace("dout * (1 - square(y))", "dout * y[5]")}
    report = bpgrade.check(pack, write_folder(tmp_path / "carol", files))
    assert "IndexError" in report.targets[0].message
    assert "course/layers.py, line 7: `return dout * y[5]`" in report.targets[0].message


def test_a_wrong_package_fails(tmp_path, pack):
    files = {**FILES, "course/layers.py": FILES["course/layers.py"].replace("1 - square(y)", "1 - y")}
    report = bpgrade.check(pack, write_folder(tmp_path / "dave", files))
    assert report.status == "ok" and not report.targets[0].passed


def test_a_batch_holds_folders_and_zips(tmp_path, pack):
    batch = tmp_path / "batch"
    batch.mkdir()
    write_folder(batch / "alice" / "assignment2")
    write_zip(batch / "bob.zip")
    found = collect([batch], pack.module)
    assert [s.id for s in found] == ["alice", "bob"]
    with Gradebook(tmp_path / "book.db") as book:
        assert grade(pack, found, book).done == 2
        reports = book.reports(pack.name)
    assert sorted(r.submission for r in reports) == ["alice", "bob"]
    assert all(r.score == r.max_score for r in reports), reports


def test_links_and_climbing_names_are_refused(tmp_path, pack):
    folder = write_folder(tmp_path / "erin")
    secret = tmp_path / "secret.py"
    secret.write_text("KEY = 1\n")
    os.symlink(secret, folder / "course" / "secret.py")
    report = bpgrade.check(pack, folder)
    assert report.status == "error" and "symbolic link" in report.message
    with zipfile.ZipFile(tmp_path / "frank.zip", "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, textwrap.dedent(text))
        link = zipfile.ZipInfo("course/evil.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    report = bpgrade.check(pack, tmp_path / "frank.zip")
    assert report.status == "error" and "symbolic link" in report.message
    with zipfile.ZipFile(tmp_path / "gina.zip", "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, textwrap.dedent(text))
        archive.writestr("course/../../escape.py", "x = 1\n")
    report = bpgrade.check(pack, tmp_path / "gina.zip")
    assert report.status == "error" and "leads out of its folder" in report.message


def test_a_zip_bomb_stops_at_the_size_limit(tmp_path, pack):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in FILES.items():
            archive.writestr(name, textwrap.dedent(text))
        archive.writestr("course/big.py", "#" * (64 << 20))
    assert (tmp_path / "bomb.zip").stat().st_size < 1 << 20
    report = bpgrade.check(pack, tmp_path / "bomb.zip")
    assert report.status == "error" and "--max-size" in report.message


def test_a_folder_without_the_module_is_refused_by_check(tmp_path, pack):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="course/classifiers/net.py"):
        bpgrade.check(pack, tmp_path / "empty")


def test_a_package_of_countless_folders_is_refused_quickly(tmp_path, pack):
    folder = write_folder(tmp_path / "hank")
    for i in range(2100):
        (folder / "course" / f"d{i}").mkdir()
    report = bpgrade.check(pack, folder)
    assert report.status == "error" and "more than 2000 folders" in report.message


def test_gradescope_grades_the_unzipped_upload_or_the_zip_in_it(tmp_path, pack):
    from bpgrade import gradescope

    upload = write_folder(tmp_path / "upload")
    assert gradescope.find_submission(upload, pack).path == upload
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    write_zip(zipped / "a1_code_submission.zip")
    assert gradescope.find_submission(zipped, pack).path == zipped / "a1_code_submission.zip"
    result = gradescope.autograde(pack, zipped)
    assert result["score"] == 1, result
    (tmp_path / "nothing").mkdir()
    result = gradescope.autograde(pack, tmp_path / "nothing")
    assert result["score"] == 0 and "course/classifiers/net.py" in result["output"]
