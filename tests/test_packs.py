"""Loading and validating exercise packs: a bad pack names the file, the key and what was expected."""

import shutil
import subprocess

import pytest
import yaml

import bpgrade
from bpgrade.errors import PackError
from bpgrade.packs import SHIPPED_DIR


def test_shipped_pack_loads(mlp2):
    assert "mlp2" in bpgrade.shipped_packs()
    assert mlp2.name == "mlp2"
    assert [t.name for t in mlp2.targets] == ["w1", "b1", "w2", "b2", "x"]
    assert [t.function for t in mlp2.targets][0] == "grad_w1"
    assert mlp2.max_score == 5.0
    assert mlp2.shape_of("w1") == ("d", "h") and mlp2.model.shapes({"N": 2, "d": 3, "h": 4})["w1"] == (3, 4)
    assert mlp2.template.is_file() and mlp2.readme.is_file()
    assert mlp2.tolerance.rtol == 1e-9
    assert "jax" in mlp2.forbidden_modules and "functorch" in mlp2.forbidden_modules
    # Torch tensors are allowed, as the worked example writes them; torch's autograd is refused in the worker.
    assert "torch" not in mlp2.forbidden_modules and mlp2.array_library == ("numpy", "torch")


def test_pack_loads_by_folder_or_by_file(tmp_path):
    pack_dir = tmp_path / "mine"
    shutil.copytree(SHIPPED_DIR / "mlp2", pack_dir)
    assert bpgrade.load_pack(pack_dir).root == pack_dir.resolve()
    assert bpgrade.load_pack(pack_dir / "exercise.yaml").name == "mlp2"


def mutated_pack(tmp_path, mutate):
    pack_dir = tmp_path / "bad"
    shutil.copytree(SHIPPED_DIR / "mlp2", pack_dir)
    data = yaml.safe_load((pack_dir / "exercise.yaml").read_text())
    mutate(data)
    (pack_dir / "exercise.yaml").write_text(yaml.safe_dump(data))
    return pack_dir


def _set(path, value):
    def mutate(data):
        *parents, last = path
        for p in parents:
            data = data[p]
        data[last] = value
    return mutate


def _delete(*path):
    def mutate(data):
        *parents, last = path
        for p in parents:
            data = data[p]
        del data[last]
    return mutate


BAD = [
    ("missing key", _delete("targets"), "targets", "present"),
    ("unknown key", _set(["colour"], "red"), "colour", "one of the keys"),
    ("dim not a range", _set(["dims", "N"], 3), "dims.N", "[min, max]"),
    ("dim min above max", _set(["dims", "h"], [5, 2]), "dims.h", "min <= max"),
    ("undeclared dim in a shape", _set(["params", "w1"], ["d", "k"]), "params.w1", "dims declared"),
    ("unknown loss", _set(["network", "loss"], "hinge"), "network.loss", "mse"),
    ("unknown layer", _set(["network", "layers", 1], "tanh"), "network.layers[1]", "an activation"),
    ("layer with an undeclared parameter", _set(["network", "layers", 0], {"linear": ["w9", "b1"]}),
     "network.layers[0]", "parameters declared"),
    ("shapes that do not chain", _set(["params", "w2"], ["d", 1]), "network.layers[2]", "weight of shape"),
    ("label of the wrong width", _set(["inputs", "y"], ["N", 2]), "network.label", "output width"),
    ("target that is no tensor", _set(["targets", "u1"], {"points": 1}), "targets.u1",
     "an input, a parameter or a tapped name"),
    ("points not a number", _set(["targets", "w1"], {"points": "many"}), "targets.w1.points", "positive number"),
    ("negative points", _set(["targets", "w1"], {"points": -1}), "targets.w1.points", "positive number"),
    ("include shape out of range", _set(["cases", "include", 0], {"N": 99, "d": 3, "h": 4}),
     "cases.include[0].N", "within dims.N"),
    ("include shape missing a dim", _set(["cases", "include", 0], {"N": 1, "d": 3}), "cases.include[0]",
     "every dim"),
    ("fewer shapes than included", _set(["cases", "shapes"], 2), "cases.shapes", "at least"),
    ("hidden seed equal to the public one", _set(["cases", "hidden_seed"], 0), "cases.hidden_seed",
     "other than public_seed"),
    ("hidden seed not an integer", _set(["cases", "hidden_seed"], "secret"), "cases.hidden_seed", "integer"),
    ("timeout not positive", _set(["timeout"], 0), "timeout", "positive number"),
    ("tolerance with an unknown key", _set(["tolerance"], {"rtol": 1e-9, "eps": 1}), "tolerance", "rtol"),
    ("unused parameter", _set(["params", "w3"], ["h", 1]), "params.w3", "some linear layer uses"),
    ("bad forbidden list", _set(["forbidden_modules"], "jax"), "forbidden_modules", "list of module names"),
]


@pytest.mark.parametrize("what,mutate,key,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_pack_names_file_key_and_expectation(tmp_path, what, mutate, key, expected):
    pack_dir = mutated_pack(tmp_path, mutate)
    with pytest.raises(PackError) as info:
        bpgrade.load_pack(pack_dir)
    assert info.value.key == key
    assert info.value.file.endswith("exercise.yaml")
    assert expected in str(info.value)
    assert str(pack_dir) in str(info.value)


def test_invalid_yaml_is_a_pack_error(tmp_path):
    pack_dir = mutated_pack(tmp_path, lambda d: None)
    (pack_dir / "exercise.yaml").write_text("name: [unclosed\n")
    with pytest.raises(PackError, match="valid YAML") as info:
        bpgrade.load_pack(pack_dir)
    # The parser's own words name the file, not "<unicode string>".
    assert "<unicode string>" not in str(info.value) and f'in "{pack_dir / "exercise.yaml"}", line' in str(info.value)


def test_unknown_pack_lists_the_shipped_ones():
    with pytest.raises(PackError, match=r"shipped pack \(cs231n-layers, cs231n-neuralnet, cs231n-twolayer, "
                                        r"dls-planar, fastai-backprop, graph, layernorm, makemore-backprop, "
                                        r"mlp-deep, mlp2, neuron3, softmax-ce\)"):
        bpgrade.load_pack("mlp3")
    with pytest.raises(PackError, match="folder holding exercise.yaml"):
        bpgrade.load_pack("/nonexistent/folder")


def test_include_shape_that_cannot_mix_active_and_inactive_units(tmp_path):
    # N = 1 and h = 1: a single ReLU input cannot be both active and inactive.
    pack_dir = mutated_pack(tmp_path, _set(["cases", "include", 0], {"N": 1, "d": 3, "h": 1}))
    pack = bpgrade.load_pack(pack_dir)
    with pytest.raises(PackError) as info:
        bpgrade.generate_cases(pack)
    assert info.value.key == "cases.include[0]"


def test_bad_pack_through_the_cli_exits_2_without_traceback(tmp_path, bpgrade_cmd, cli_env):
    pack_dir = mutated_pack(tmp_path, _set(["dims", "N"], "lots"))
    proc = subprocess.run([*bpgrade_cmd, "check", "solutions/mlp2.py", "-e", str(pack_dir)], capture_output=True,
                          text=True, env=cli_env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "exercise.yaml: dims.N: expected [min, max]" in proc.stderr
    assert proc.stdout == ""


def test_pack_without_template_is_an_error(tmp_path):
    pack_dir = mutated_pack(tmp_path, lambda d: None)
    (pack_dir / "template.py").unlink()
    with pytest.raises(PackError, match="template.py: expected this file"):
        bpgrade.load_pack(pack_dir)
