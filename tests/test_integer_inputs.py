"""Integer inputs: class labels drawn in a declared range, passed to submissions as int64."""

import numpy as np
import pytest

import bpgrade
from bpgrade import cases as cases_module
from bpgrade._wire import FrameReader, WireError, decode, encode
from bpgrade.errors import PackError

MODEL = '''
import jax
import jax.numpy as jnp


def loss(scores, y, params, tap):
    s = scores * params["t"]
    logp = jax.nn.log_softmax(s, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
'''

RIGHT = '''
import numpy as np


def _p(scores, t):
    s = scores * t
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def grad_scores(scores, y, params):
    assert y.dtype == np.int64, y.dtype
    p = _p(scores, params["t"])
    p[np.arange(len(y)), y] -= 1
    return p * params["t"] / len(y)


def grad_t(scores, y, params):
    p = _p(scores, params["t"])
    p[np.arange(len(y)), y] -= 1
    return np.sum(p * scores) / len(y)
'''


def write_pack(tmp_path, inputs="{scores: [N, C], y: {shape: [N], integers: [0, C]}}", targets="{scores: {}, t: {}}"):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "model.py").write_text(MODEL)
    (folder / "README.md").write_text("# labels\n")
    (folder / "template.py").write_text("")
    (folder / "exercise.yaml").write_text(
        f"name: labels\ndims: {{N: [2, 5], C: [2, 4]}}\ninputs: {inputs}\nparams: {{t: []}}\nmodel: model.py\n"
        f"targets: {targets}\ncases: {{shapes: 3, per_shape: 2, hidden_seed: 9}}\n")
    return folder


def test_labels_are_int64_in_range_and_right_answers_pass(tmp_path):
    pack = bpgrade.load_pack(write_pack(tmp_path))
    found = cases_module.generate_cases(pack)
    for case in found:
        y = case.tensors["y"]
        assert y.dtype == np.int64 and y.shape == (case.dims["N"],)
        assert 0 <= y.min() and y.max() < case.dims["C"]
    (tmp_path / "right.py").write_text(RIGHT)
    report = bpgrade.check(pack, tmp_path / "right.py")
    assert report.status == "ok" and report.score == report.max_score, report
    assert bpgrade.check(pack, _functions(RIGHT)).score == report.max_score


def _functions(source):
    namespace = {}
    exec(source, namespace)
    return {"grad_scores": namespace["grad_scores"], "grad_t": namespace["grad_t"]}


def test_a_wrong_label_handling_fails(tmp_path):
    pack = bpgrade.load_pack(write_pack(tmp_path))
    # Treats the labels as if they were one class off.
    (tmp_path / "wrong.py").write_text(RIGHT.replace("p[np.arange(len(y)), y] -= 1",
                                                     "p[np.arange(len(y)), (y + 1) % p.shape[1]] -= 1"))
    report = bpgrade.check(pack, tmp_path / "wrong.py")
    assert {r.name for r in report.targets if not r.passed} == {"scores", "t"}


def test_case_source_writes_int64(tmp_path):
    pack = bpgrade.load_pack(write_pack(tmp_path))
    case = cases_module.generate_cases(pack)[0]
    source = cases_module.case_source(pack, case)
    namespace = {}
    exec(source, namespace)
    assert namespace["y"].dtype == np.int64 and (namespace["y"] == case.tensors["y"]).all()


def test_a_target_of_an_integer_input_is_refused(tmp_path):
    with pytest.raises(PackError, match="targets.y"):
        bpgrade.load_pack(write_pack(tmp_path, targets="{y: {}}"))


@pytest.mark.parametrize("bounds", ["[C, 0]", "[0, z]", "[0]"])
def test_a_bad_range_is_refused(tmp_path, bounds):
    with pytest.raises(PackError, match="inputs.y"):
        bpgrade.load_pack(write_pack(tmp_path, inputs=f"{{scores: [N, C], y: {{shape: [N], integers: {bounds}}}}}"))


def test_only_the_grader_may_send_integers():
    frame = encode({}, [np.arange(3)])
    header, arrays = decode(frame, dtypes=("<f8", "<i8"))
    assert arrays[0].dtype == np.int64 and arrays[0].tolist() == [0, 1, 2]
    with pytest.raises(WireError):
        decode(frame)  # a worker's frame: float64 only
    with pytest.raises(WireError):
        FrameReader().feed(frame)
