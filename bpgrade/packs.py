"""Exercise packs: loading ``exercise.yaml`` and validating it.

A pack is a folder holding ``exercise.yaml`` (what is graded and how),
``template.py`` (the stub a student fills in) and ``README.md`` (the problem
statement). :func:`load_pack` turns the folder into a frozen :class:`Pack` or
raises :class:`~bpgrade.errors.PackError` naming the file, the key and what was
expected. The format is documented in ``exercises/mlp2/exercise.yaml``.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Mapping

import yaml

from .errors import PackError

if TYPE_CHECKING:
    from .models import Model
    from .networks import Network

SHIPPED_DIR = Path(__file__).resolve().parent / "exercises"
PACK_FILE = "exercise.yaml"
DEFAULT_FORBIDDEN = ("jax", "jaxlib", "torch", "autograd", "tensorflow", "keras", "flax", "equinox", "optax",
                     "functorch", "mxnet", "paddle", "theano", "chainer", "tinygrad", "micrograd", "sympy")

Shape = tuple[str | int, ...]
#: What submissions may compute with; the first of a pack's gives the arguments' type.
ARRAY_LIBRARIES = ("numpy", "torch")
#: The precision a pack expects of results, and its default (rtol, atol): float64, or float32 (torch's
#: default dtype: about 1e-7 per operation, 1e-5 after the sums of a small network, with room).
PRECISIONS = {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-6)}
#: How a result's shape must match: exactly, or once axes of size 1 are dropped.
SHAPE_POLICIES = ("exact", "squeeze")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A module's or a course's dotted name: cs231n.classifiers.fc_net, affine_backward.dx.
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
#: A pack's name may also hold hyphens (softmax-ce); tensor and target names may not.
_PACK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Diagnosis codes that a mistake model may carry (the rest describe a run, not a formula).
MISTAKE_CODES = ("sign", "scale", "transpose", "relu_mask", "activation_derivative", "chain_rule", "mistake")


@dataclass(frozen=True)
class Mistake:
    """A mistake students make on a pack's network (:mod:`bpgrade.mistakes`).

    ``model`` is the network with that mistake in its derivative (None in a
    pack read from the truth store, whose mistake gradients are stored);
    ``code`` is one of :data:`MISTAKE_CODES`; ``text`` tells the student what
    the mistake is and how to fix it; ``readme`` names the heading of the
    pack's README to revisit (None: the target's own).
    """

    name: str
    code: str
    text: str
    model: "Model | None"
    readme: str | None = None


@dataclass(frozen=True)
class Facts:
    """What of a pack only JAX can find out, as the truth store keeps it: the names its
    model taps and its mistakes (each ``(name, code, text, readme)``)."""

    taps: tuple[str, ...]
    mistakes: tuple[tuple[str, str, str, str | None], ...]

    @classmethod
    def of(cls, pack: "Pack") -> "Facts":
        return cls(pack.taps, tuple((m.name, m.code, m.text, m.readme) for m in pack.mistakes))


@dataclass(frozen=True)
class Target:
    """A graded gradient: d loss / d ``of`` (an input, a parameter or a tapped
    intermediate), computed by the submission's ``function``. ``readme`` is
    the heading of the pack's README that a student who fails it should
    revisit (None: the README as a whole). ``zero``: its true gradient may be
    zero (a bias before a batch norm), so cases are not screened for it.
    ``shape``: ``"exact"``, or ``"squeeze"`` to accept a result whose shape is
    the gradient's once axes of size 1 are dropped (``(1, D)`` for ``(D,)``),
    as courses' own checks do. In a pack with a harness, ``call`` is the
    harness function that produces it and ``key`` its entry in what that
    returns; ``function`` is then how feedback names the student's code.
    """

    name: str
    points: float
    of: str = ""
    function: str = ""
    readme: str | None = None
    zero: bool = False
    shape: str = "exact"
    call: str | None = None
    key: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "of", self.of or self.name)
        object.__setattr__(self, "function", self.function or f"grad_{self.name}")


@dataclass(frozen=True)
class CaseSettings:
    """How the test cases of a pack are drawn (see :mod:`bpgrade.cases`).
    ``hidden_seed`` (None when the pack declares no hidden set) draws the
    cases that are graded but reported only as counts."""

    public_seed: int
    shapes: int
    per_shape: int
    include: tuple[Mapping[str, int], ...]
    activation_margin: float
    hidden_seed: int | None = None


@dataclass(frozen=True)
class Tolerance:
    """A target passes when, in every case, ``max|got - expected| <= atol + rtol * max|expected|``."""

    rtol: float
    atol: float


@dataclass(frozen=True)
class Pack:
    """An exercise: its network, tensors, targets and grading settings.

    ``inputs`` and ``params`` map argument names to symbolic shapes (None where
    ``model.py`` computes the shapes); a submission's functions are called as
    ``f(*inputs, params)`` with NumPy float64 arrays (params a dict, whose
    values may be pytrees). ``model`` is what the truth differentiates; a
    declarative pack also keeps its ``network``. ``mistakes`` are the mistake
    models that diagnosis compares failing submissions with. ``taps`` are the
    intermediates the model taps. A pack read with :class:`Facts` from the
    truth store (``load_pack(..., facts=...)``) has no ``model``, ``network``
    nor mistake models: it grades from stored truths, without JAX.
    ``digest`` is the SHA-256 of ``exercise.yaml``: results graded under another
    digest are graded again.

    How submissions are run (docs/authoring.md documents the files):
    ``harness`` is the instructor's file that calls a student's code the way
    the course does (None: each target's function is called directly),
    ``harness_names`` the names it reads from the submission and
    ``harness_provides`` those it sets there (a course's globals); ``modules`` maps
    module names to the pack's files that submissions may import;
    ``display_only`` names modules that stand in as doing nothing;
    ``allowed_modules`` installed modules a submission may import besides
    NumPy; ``module`` the module of a package submission to load
    (``cs231n.classifiers.fc_net``); ``array_library`` what submissions
    compute with: ``("numpy",)``, or with ``"torch"`` (PyTorch tensors without
    autograd), the first giving the arguments' type; ``exercise_cell`` the harness function
    that runs a notebook's cell of statements (:attr:`exercise_names` names what it assigns).
    """

    name: str
    title: str
    root: Path
    dims: Mapping[str, tuple[int, int]]
    inputs: Mapping[str, Shape | None]
    params: Mapping[str, Shape | None]
    model: "Model | None"
    network: "Network | None"
    targets: tuple[Target, ...]
    cases: CaseSettings
    tolerance: Tolerance
    timeout: float
    forbidden_modules: tuple[str, ...]
    mistakes: tuple[Mistake, ...] = ()
    digest: str = ""
    harness: Path | None = None
    harness_names: tuple[str, ...] = ()
    harness_provides: tuple[str, ...] = ()
    modules: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    display_only: tuple[str, ...] = ()
    allowed_modules: tuple[str, ...] = ()
    module: str | None = None
    array_library: tuple[str, ...] = ("numpy",)
    exercise_cell: str | None = None
    taps: tuple[str, ...] = ()

    @property
    def template(self) -> Path:
        return self.root / "template.py"

    @property
    def readme(self) -> Path:
        return self.root / "README.md"

    @functools.cached_property
    def spec(self) -> str:
        """What names this pack on the command line: its name when it ships, else its folder."""
        return self.name if (SHIPPED_DIR / self.name).resolve() == self.root.resolve() else str(self.root)

    @property
    def submission_names(self) -> tuple[str, ...]:
        """What a submission defines: the names its harness reads (and its exercise cell assigns),
        else each target's function. Among a student's files, the one defining most is graded."""
        if self.harness is None:
            return tuple(dict.fromkeys(t.function for t in self.targets))
        return (*self.harness_names, *self.exercise_names)

    @property
    def exercise_names(self) -> tuple[str, ...]:
        """What the notebook's exercise cell assigns: the keys its targets read (``dlogprobs``, ...)."""
        return tuple(str(t.key) for t in self.targets if self.exercise_cell and t.call == self.exercise_cell)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.targets)

    def shape_of(self, tensor: str) -> Shape | None:
        """The symbolic shape of an input or parameter, e.g. ``("d", "h")``;
        None for a tapped intermediate or a shape that ``model.py`` computes."""
        return {**self.inputs, **self.params}.get(tensor)


def shipped_packs() -> list[str]:
    """Names of the packs that ship with bpgrade, sorted."""
    return sorted(p.parent.name for p in SHIPPED_DIR.glob(f"*/{PACK_FILE}"))


def load_pack(name_or_path: str | Path, facts: Facts | None = None) -> Pack:
    """Load a shipped pack by name (``"mlp2"``) or any pack by the path of its folder.

    With ``facts`` (from the truth store, for this pack's very files), the model is
    neither loaded nor run and JAX is not imported: the pack has no model (see :class:`Pack`).

    Raises:
      PackError: no such pack, or a pack that does not validate.
    """
    path = pack_folder(name_or_path)
    file = path / PACK_FILE
    try:
        raw = file.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except yaml.YAMLError as e:
        raise PackError(str(file), "", "valid YAML",
                        str(e).replace("<unicode string>", str(file)).replace("\n", " ")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PackError(str(file), "", "a readable UTF-8 file", str(e)) from None
    pack = _Validator(str(file), facts).pack(data, path.resolve())
    # What runs beside a submission is part of what it was graded with.
    digest = hashlib.sha256(raw)
    for extra in [*([pack.harness] if pack.harness else []), *pack.modules.values()]:
        digest.update(extra.read_bytes())
    return dataclasses.replace(pack, digest=digest.hexdigest())


def pack_folder(name_or_path: str | Path) -> Path:
    """The folder of a shipped pack's name (``"mlp2"``) or of a pack's path.

    Raises:
      PackError: no such pack, or a folder without its required files.
    """
    path = Path(name_or_path)
    if path.name == PACK_FILE:
        path = path.parent
    if not (path / PACK_FILE).is_file():
        shipped = SHIPPED_DIR / str(name_or_path)
        if not _PACK_NAME.match(str(name_or_path)) or not (shipped / PACK_FILE).is_file():
            raise PackError(str(name_or_path), "", f"the name of a shipped pack ({', '.join(shipped_packs())}) "
                            f"or a folder holding {PACK_FILE}")
        path = shipped
    for required in ("template.py", "README.md"):
        if not (path / required).is_file():
            raise PackError(str(path / required), "",
                            "this file: a pack holds exercise.yaml, template.py and README.md")
    return path


class _Validator:
    """Turns the parsed YAML into a :class:`Pack`, naming the key of every mistake."""

    def __init__(self, file: str, facts: Facts | None = None):
        self.file, self.facts = file, facts

    def fail(self, key: str, expected: str, got: Any = None) -> PackError:
        return PackError(self.file, key, expected, got)

    def mapping(self, value: Any, key: str, empty: bool = False) -> dict:
        if not isinstance(value, dict) or not (value or empty):
            raise self.fail(key, "a mapping" if empty else "a non-empty mapping", value)
        return value

    def name(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(key, "a name made of letters, digits and _", value)
        return value

    def pack_name(self, value: Any) -> str:
        if not isinstance(value, str) or not _PACK_NAME.match(value):
            raise self.fail("name", "a name made of letters, digits, _ and -", value)
        return value

    def number(self, value: Any, key: str, *, positive: bool = False, integer: bool = False) -> float:
        # PyYAML reads 1e-9 (no dot) as a string; accept what float() accepts.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and integer:
            ok = float(value).is_integer()
        if ok and positive:
            ok = value > 0
        if not ok:
            kind = "integer" if integer else "number"
            raise self.fail(key, f"a {'positive ' if positive else ''}{kind}", value)
        return int(value) if integer else float(value)

    def pack(self, data: Any, root: Path) -> Pack:
        data = self.mapping(data, "")
        known = {"name", "title", "dims", "inputs", "params", "network", "model", "targets", "cases", "tolerance",
                 "timeout", "forbidden_modules", "mistakes", "harness", "modules", "display_only", "allowed_modules",
                 "module", "shape", "array_library", "precision", "exercise_cell"}
        for key in data:
            if key not in known:
                raise self.fail(str(key), f"one of the keys {', '.join(sorted(known))}", key)
        for key in ("name", "dims", "inputs", "params", "targets", "cases"):
            if key not in data:
                raise self.fail(key, "this key to be present")
        if ("network" in data) == ("model" in data):
            raise self.fail("network", "either network (layers declared here) or model (a Python file), not both "
                            "and not neither")
        dims = self.dims(data["dims"])
        names_only = "model" in data
        integers: dict[str, tuple[int | str, int | str]] = {}
        inputs = self.tensors(data["inputs"], "inputs", dims, names_only, integers)
        params = self.tensors(data["params"], "params", dims, names_only)
        if integers and "network" in data:
            raise self.fail(f"inputs.{next(iter(integers))}", "float inputs: integer inputs need model: model.py")
        if not inputs and not params:
            raise self.fail("inputs", "at least one input or parameter")
        if clashes := sorted(set(inputs) & set(params)):
            raise self.fail(f"params.{clashes[0]}", "a name not already used by an input", clashes[0])
        cases_value = self.mapping(data["cases"], "cases")
        cases = self.cases(cases_value, dims)
        headings = _headings(root / "README.md")
        if self.facts is not None:
            # Found by the full load whose truths the store keeps, for these very files.
            model = network = None
            taps = list(self.facts.taps)
            mistakes = tuple(Mistake(name, code, text, None, readme)
                             for name, code, text, readme in self.facts.mistakes)
        else:
            model, network, mistakes, taps = self.model_parts(data, root, inputs, params, integers, cases_value,
                                                              cases, dims, headings)
        title = data.get("title", data["name"])
        if not isinstance(title, str):
            raise self.fail("title", "a string", title)
        libraries = data.get("array_library", ["numpy"])
        libraries = [libraries] if isinstance(libraries, str) else libraries
        if not isinstance(libraries, list) or not libraries or not set(libraries) <= set(ARRAY_LIBRARIES) \
                or len(set(libraries)) != len(libraries):
            raise self.fail("array_library", "numpy, torch, or a list of them (the first gives the arguments)",
                            data.get("array_library"))
        # Torch as an array library is hand derivation; its autograd is refused in the worker instead.
        default = [m for m in DEFAULT_FORBIDDEN if m != "torch" or "torch" not in libraries]
        forbidden = data.get("forbidden_modules", default)
        if not isinstance(forbidden, list) or not all(isinstance(m, str) and m for m in forbidden):
            raise self.fail("forbidden_modules", "a list of module names", forbidden)
        if "torch" in libraries and "torch" in forbidden:
            raise self.fail("forbidden_modules", "a list without torch, which array_library allows", forbidden)
        shape = data.get("shape", "exact")
        if shape not in SHAPE_POLICIES:
            raise self.fail("shape", f"one of {', '.join(SHAPE_POLICIES)} (every target's, unless it says)", shape)
        harness, harness_functions, harness_names, harness_provides = self.harness(data.get("harness"), root)
        modules = self.modules(data.get("modules", {}), root)
        display_only = self.module_names(data.get("display_only", []), "display_only")
        allowed = self.module_names(data.get("allowed_modules", []), "allowed_modules")
        for key, names in (("display_only", display_only), ("allowed_modules", allowed)):
            if clash := [m for m in names if m.partition(".")[0] in forbidden]:
                raise self.fail(key, "modules that forbidden_modules does not name", clash[0])
        module = data.get("module")
        if module is not None and not (isinstance(module, str) and _DOTTED.match(module)):
            raise self.fail("module", "a dotted module name (cs231n.classifiers.fc_net)", module)
        exercise_cell = data.get("exercise_cell")
        if exercise_cell is not None and exercise_cell not in harness_functions:
            raise self.fail("exercise_cell", "the function of the harness that calls student.run_exercise() "
                            f"({', '.join(sorted(harness_functions)) or 'the pack has no harness'})", exercise_cell)
        targets = self.targets(data["targets"], [n for n in [*inputs, *params, *taps] if n not in integers],
                               headings, harness_functions if harness else None, shape)
        for target in targets:
            # What the exercise's cell assigns is found by these names.
            if exercise_cell and target.call == exercise_cell and not str(target.key).isidentifier():
                raise self.fail(f"targets.{target.name}.key", "the name the exercise's cell assigns (dlogprobs)",
                                target.key)
        return Pack(
            name=self.pack_name(data["name"]),
            title=title,
            root=root,
            dims=dims,
            inputs=inputs,
            params=params,
            model=model,
            network=network,
            targets=targets,
            cases=cases,
            tolerance=self.tolerance(data.get("tolerance", {}), self.precision(data.get("precision", "float64"))),
            timeout=self.number(data.get("timeout", 10), "timeout", positive=True),
            forbidden_modules=tuple(forbidden),
            mistakes=mistakes,
            harness=harness,
            harness_names=harness_names,
            harness_provides=harness_provides,
            modules=modules,
            display_only=display_only,
            allowed_modules=allowed,
            module=module,
            array_library=tuple(libraries),
            exercise_cell=exercise_cell,
            taps=tuple(taps),
        )

    def model_parts(self, data: dict, root: Path, inputs: Mapping[str, Shape | None],
                    params: Mapping[str, Shape | None], integers: Mapping[str, tuple], cases_value: Mapping,
                    cases: CaseSettings, dims: Mapping[str, tuple[int, int]], headings: list[str]
                    ) -> tuple["Model", "Network | None", tuple[Mistake, ...], list[str]]:
        """The model, the declarative network (or None), the mistakes and the tapped names: what
        loading and running the model finds, with JAX."""
        from .mistakes import network_mistakes
        from .models import from_network

        network = None
        if "network" in data:
            if "mistakes" in data:
                raise self.fail("mistakes", "no mistakes: a declarative network gets its mistake models from "
                                "bpgrade (declare them with model: model.py)")
            network = self.network(data["network"], inputs, params)
            model = from_network(network, inputs, params)
            mistakes = network_mistakes(network, inputs, params)
        else:
            kinks = cases_value.get("kinks", [])
            if not isinstance(kinks, list) or not all(isinstance(k, str) for k in kinks):
                raise self.fail("cases.kinks", "a list of tapped names", kinks)
            declared = self.mistakes(data.get("mistakes", {}), headings)
            model, variants = self.model(data["model"], root, inputs, params, tuple(kinks),
                                         tuple(spec["loss"] for spec in declared.values()))
            model = dataclasses.replace(model, integers=integers)
            mistakes = tuple(Mistake(name, spec["code"], spec["text"],
                                     dataclasses.replace(variants[spec["loss"]], integers=integers), spec.get("readme"))
                             for name, spec in declared.items())
        taps = self.probe(model, "network" if network else "model", dims, cases)
        for kink in model.kinks:
            if kink not in taps:
                raise self.fail("cases.kinks", f"names that model.py taps ({', '.join(taps) or 'none'})", kink)
        return model, network, mistakes, taps

    def model(self, value: Any, root: Path, inputs: Mapping[str, Shape | None], params: Mapping[str, Shape | None],
              kinks: tuple[str, ...], variants: tuple[str, ...]) -> tuple["Model", dict[str, "Model"]]:
        from .models import ModelFileError, load_model

        if not isinstance(value, str) or not value.endswith(".py") or not (root / value).is_file():
            raise self.fail("model", "the name of a Python file in the pack's folder (model.py)", value)
        declared = None if any(s is None for s in [*inputs.values(), *params.values()]) else {**inputs, **params}
        try:
            return load_model(root / value, tuple(inputs), tuple(params), declared, kinks, variants)
        except ModelFileError as e:
            raise PackError(str(root / value), "", str(e)) from None

    def probe(self, model: "Model", key: str, dims: Mapping[str, tuple[int, int]], cases: CaseSettings) -> list[str]:
        """Runs the model abstractly on one shape: its tapped names, or the error blamed on ``key``."""
        import jax

        from . import truth

        shape = dict(cases.include[0]) if cases.include else {name: low for name, (low, _) in dims.items()}
        try:
            with jax.enable_x64(True):
                out, taps = jax.eval_shape(lambda a: truth.loss_and_taps(model, a), model.abstract(shape))
        except Exception as e:  # noqa: BLE001 - the pack's own code, reported with the shape it failed on
            raise self.fail(key, f"a loss that runs on the dims {shape}", f"{type(e).__name__}: {e}") from None
        if out.shape != ():
            raise self.fail(key, "a loss that returns a scalar", f"shape {out.shape}")
        return list(taps)

    def dims(self, value: Any) -> dict[str, tuple[int, int]]:
        dims = {}
        for name, bounds in self.mapping(value, "dims", empty=True).items():
            key = f"dims.{name}"
            self.name(name, key)
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self.fail(key, "[min, max], two positive integers", bounds)
            low = self.number(bounds[0], key, positive=True, integer=True)
            high = self.number(bounds[1], key, positive=True, integer=True)
            if low > high:
                raise self.fail(key, "min <= max", bounds)
            dims[name] = (low, high)
        return dims

    def tensors(self, value: Any, section: str, dims: Mapping[str, Any], names_only: bool = False,
                integers: dict | None = None) -> dict[str, Shape | None]:
        """The tensors of a section, by name; an input written ``{shape: [N], integers: [0, C]}``
        (or ``{y: {integers: [0, C]}}`` in a list of names) joins ``integers``."""
        if names_only and isinstance(value, list) and value:
            # model.py computes the shapes (shapes(dims)): names in call order only.
            names = {}
            for i, entry in enumerate(value):
                key = f"{section}[{i}]"
                if isinstance(entry, dict) and len(entry) == 1 and integers is not None:
                    (name, spec), = entry.items()
                    if not isinstance(spec, dict) or set(spec) != {"integers"}:
                        raise self.fail(key, "a name, or {name: {integers: [low, high]}}", entry)
                    integers[self.name(name, key)] = self.integer_range(spec["integers"], f"{key}.{name}", dims)
                    entry = name
                names[self.name(entry, key)] = None
            return names
        tensors = {}
        for name, shape in self.mapping(value, section, empty=True).items():
            key = f"{section}.{name}"
            self.name(name, key)
            if isinstance(shape, dict) and integers is not None:
                if set(shape) != {"shape", "integers"}:
                    raise self.fail(key, "a shape, or {shape: [...], integers: [low, high]}", shape)
                integers[name] = self.integer_range(shape["integers"], f"{key}.integers", dims)
                shape = shape["shape"]
            if not isinstance(shape, list):
                raise self.fail(key, "a shape: a list of dim names and positive integers", shape)
            for axis in shape:
                if isinstance(axis, str):
                    if axis not in dims:
                        raise self.fail(key, f"dims declared under 'dims' ({', '.join(dims)})", axis)
                else:
                    self.number(axis, key, positive=True, integer=True)
            tensors[name] = tuple(shape)
        return tensors

    def integer_range(self, value: Any, key: str, dims: Mapping[str, Any]) -> tuple[int | str, int | str]:
        """``[low, high]`` of an integer input (``low <= value < high``), each an int or a dim's name."""
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(key, "[low, high]: integers or dim names, low <= value < high", value)
        for bound in value:
            if isinstance(bound, str):
                if bound not in dims:
                    raise self.fail(key, f"dims declared under 'dims' ({', '.join(dims)})", bound)
            else:
                self.number(bound, key, integer=True)
        low, high = (int(b) if not isinstance(b, str) else b for b in value)

        def size(bound: int | str, end: int) -> int:  # a dim's smallest (0) or largest (1) size
            return dims[bound][end] if isinstance(bound, str) else bound

        if size(high, 0) <= size(low, 1):
            raise self.fail(key, "low < high for every size of the dims", value)
        return low, high

    def network(self, value: Any, inputs: Mapping[str, Shape], params: Mapping[str, Shape]) -> "Network":
        from .networks import ACTIVATIONS, LOSSES, Layer, Network

        value = self.mapping(value, "network")
        for key in ("input", "label", "layers", "loss"):
            if key not in value:
                raise self.fail(f"network.{key}", "this key to be present")
        for key in ("input", "label"):
            if value[key] not in inputs:
                raise self.fail(f"network.{key}", f"one of the inputs ({', '.join(inputs)})", value[key])
        if value["loss"] not in LOSSES:
            raise self.fail("network.loss", f"one of {', '.join(LOSSES)}", value["loss"])
        if not isinstance(value["layers"], list) or not value["layers"]:
            raise self.fail("network.layers", "a non-empty list of layers", value["layers"])
        layers = []
        width = inputs[value["input"]][-1]
        for i, spec in enumerate(value["layers"]):
            key = f"network.layers[{i}]"
            if isinstance(spec, str) and spec in ACTIVATIONS:
                layers.append(Layer(spec))
                continue
            if not (isinstance(spec, dict) and list(spec) == ["linear"] and isinstance(spec["linear"], list)
                    and len(spec["linear"]) == 2):
                raise self.fail(key, f"an activation ({', '.join(ACTIVATIONS)}) or {{linear: [weight, bias]}}",
                                spec)
            weight, bias = spec["linear"]
            for p in (weight, bias):
                if p not in params:
                    raise self.fail(key, f"parameters declared under 'params' ({', '.join(params)})", p)
            w_shape, b_shape = params[weight], params[bias]
            if len(w_shape) != 2 or w_shape[0] != width or b_shape != (w_shape[1],):
                raise self.fail(key, f"a weight of shape [{width}, k] and a bias of shape [k]",
                                f"{weight}: {list(w_shape)}, {bias}: {list(b_shape)}")
            width = w_shape[1]
            layers.append(Layer("linear", weight, bias))
        label_shape = inputs[value["label"]]
        if label_shape[-1] != width:
            raise self.fail("network.label", f"a label whose last axis is the output width {width}",
                            f"{value['label']}: {list(label_shape)}")
        used = {p for layer in layers for p in (layer.weight, layer.bias) if p}
        if unused := sorted(set(params) - used):
            raise self.fail(f"params.{unused[0]}", "a parameter that some linear layer uses", unused[0])
        return Network(value["input"], value["label"], tuple(layers), value["loss"])

    def targets(self, value: Any, differentiable: list[str], headings: list[str],
                harness: Collection[str] | None, shape: str = "exact") -> tuple[Target, ...]:
        """The targets; ``harness``: the functions of the pack's harness (None: it has none);
        ``shape``: the pack's shape policy, a target's unless it gives its own."""
        targets = []
        keys = {"points", "of", "function", "readme", "zero", "shape"} | ({"call", "key"} if harness else set())
        for name, spec in self.mapping(value, "targets").items():
            key = f"targets.{name}"
            # With a harness, a target may be named as the course names it: affine_backward.dx.
            if harness is None or not isinstance(name, str) or not _DOTTED.match(name):
                self.name(name, key)
            spec = {} if spec is None else spec
            if not isinstance(spec, dict) or set(spec) - keys:
                raise self.fail(key, f"a mapping with the keys {', '.join(sorted(keys))}", spec)
            if not isinstance(spec.get("zero", False), bool):
                raise self.fail(f"{key}.zero", "true or false", spec["zero"])
            if spec.get("shape", shape) not in SHAPE_POLICIES:
                raise self.fail(f"{key}.shape", f"one of {', '.join(SHAPE_POLICIES)}", spec["shape"])
            of = spec.get("of", name)
            if of not in differentiable:
                raise self.fail(f"{key}.of" if "of" in spec else key,
                                f"an input, a parameter or a tapped name ({', '.join(differentiable)})", of)
            call = entry = None
            if harness is None:
                function = self.name(spec.get("function", f"grad_{name}"), f"{key}.function")
            else:
                group, _, rest = name.partition(".")
                call = spec.get("call", group)
                if call not in harness:
                    raise self.fail(f"{key}.call" if "call" in spec else key,
                                    f"a function of the harness ({', '.join(sorted(harness))})", call)
                entry = spec.get("key", rest or name)
                if not isinstance(entry, (str, int)) or isinstance(entry, bool):
                    raise self.fail(f"{key}.key", "a key (text) or an index (integer)", entry)
                function = spec.get("function", call)
                if not isinstance(function, str) or not _DOTTED.match(function):
                    raise self.fail(f"{key}.function", "the name of the student's code (TwoLayerNet.loss)", function)
            targets.append(Target(name, self.number(spec.get("points", 1), f"{key}.points", positive=True), of,
                                  function, self.heading(spec.get("readme"), f"{key}.readme", headings),
                                  spec.get("zero", False), spec.get("shape", shape), call, entry))
        return tuple(targets)

    def harness(self, value: Any, root: Path
                ) -> tuple[Path | None, frozenset[str], tuple[str, ...], tuple[str, ...]]:
        """The harness file (read, never run: it runs in workers), the functions it defines, the
        names it reads from the submission (``student.NAME``) and those it sets there
        (``student.NAME = ...``: a course's globals)."""
        if value is None:
            return None, frozenset(), (), ()
        path = root / value if isinstance(value, str) else None
        if path is None or not value.endswith(".py") or not path.is_file():
            raise self.fail("harness", "the name of a Python file in the pack's folder (harness.py)", value)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError, UnicodeDecodeError) as e:
            raise PackError(str(path), "", "a Python file that compiles", str(e)) from None
        reads, stores = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "student":
                (stores if isinstance(node.ctx, ast.Store) else reads).add(node.attr)
        reads.discard("run_exercise")  # Student's own, not a name of the submission
        functions = frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef))
        return path, functions, tuple(sorted(reads)), tuple(sorted(stores))

    def modules(self, value: Any, root: Path) -> dict[str, Path]:
        found = {}
        for name, file in self.mapping(value, "modules", empty=True).items():
            key = f"modules.{name}"
            if not isinstance(name, str) or not _DOTTED.match(name):
                raise self.fail(key, "a dotted module name (planar_utils, cs231n.im2col)", name)
            if not isinstance(file, str) or not file.endswith(".py") or not (root / file).is_file():
                raise self.fail(key, "a Python file in the pack's folder", file)
            found[name] = root / file
        return found

    def module_names(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(m, str) and _DOTTED.match(m) for m in value):
            raise self.fail(key, "a list of module names", value)
        return tuple(value)

    def heading(self, value: Any, key: str, headings: list[str]) -> str | None:
        if value is not None and value not in headings:
            raise self.fail(key, f"a heading of README.md ({', '.join(map(repr, headings)) or 'it has none'})", value)
        return value

    def mistakes(self, value: Any, headings: list[str]) -> dict[str, dict]:
        found = {}
        for name, spec in self.mapping(value, "mistakes", empty=True).items():
            key = f"mistakes.{name}"
            self.name(name, key)
            if not isinstance(spec, dict) or not {"loss", "text"} <= set(spec) <= {"loss", "code", "text", "readme"}:
                raise self.fail(key, "a mapping with the keys loss and text, and optionally code and readme", spec)
            self.name(spec["loss"], f"{key}.loss")
            if not isinstance(spec["text"], str) or not spec["text"].strip():
                raise self.fail(f"{key}.text", "a sentence telling the student what the mistake is", spec["text"])
            spec = {"code": "mistake", **spec}
            if spec["code"] not in MISTAKE_CODES:
                raise self.fail(f"{key}.code", f"one of {', '.join(MISTAKE_CODES)}", spec["code"])
            self.heading(spec.get("readme"), f"{key}.readme", headings)
            found[name] = spec
        return found

    def cases(self, value: Mapping, dims: Mapping[str, tuple[int, int]]) -> CaseSettings:
        known = {"public_seed", "hidden_seed", "shapes", "per_shape", "include", "activation_margin", "kinks"}
        for key in value:
            if key not in known:
                raise self.fail(f"cases.{key}", f"one of the keys {', '.join(sorted(known))}", key)
        include = value.get("include", [])
        if not isinstance(include, list):
            raise self.fail("cases.include", "a list of {dim: size} mappings", include)
        shapes = []
        for i, entry in enumerate(include):
            key = f"cases.include[{i}]"
            if not isinstance(entry, dict) or set(entry) != set(dims):
                raise self.fail(key, f"a mapping giving every dim ({', '.join(dims)})", entry)
            for dim, size in entry.items():
                low, high = dims[dim]
                if self.number(size, f"{key}.{dim}", integer=True, positive=True) not in range(low, high + 1):
                    raise self.fail(f"{key}.{dim}", f"a size within dims.{dim} = [{low}, {high}]", size)
            shapes.append(dict(entry))
        n_shapes = self.number(value.get("shapes", max(len(shapes), 1)), "cases.shapes", positive=True, integer=True)
        if n_shapes < len(shapes):
            raise self.fail("cases.shapes", f"at least the {len(shapes)} shapes of cases.include", n_shapes)
        public_seed = self.number(value.get("public_seed", 0), "cases.public_seed", integer=True)
        hidden_seed = value.get("hidden_seed")
        if hidden_seed is not None:
            hidden_seed = self.number(hidden_seed, "cases.hidden_seed", integer=True)
            if hidden_seed == public_seed:
                raise self.fail("cases.hidden_seed", "a seed other than public_seed", hidden_seed)
        return CaseSettings(
            public_seed=public_seed,
            hidden_seed=hidden_seed,
            shapes=n_shapes,
            per_shape=self.number(value.get("per_shape", 1), "cases.per_shape", positive=True, integer=True),
            include=tuple(shapes),
            activation_margin=self.number(value.get("activation_margin", 0.05), "cases.activation_margin",
                                          positive=True),
        )

    def precision(self, value: Any) -> str:
        if value not in PRECISIONS:
            raise self.fail("precision", f"one of {', '.join(PRECISIONS)}", value)
        return value

    def tolerance(self, value: Any, precision: str = "float64") -> Tolerance:
        """The tolerance; its defaults are those of the pack's ``precision``."""
        if not isinstance(value, dict) or set(value) - {"rtol", "atol"}:
            raise self.fail("tolerance", "a mapping with the keys rtol and atol", value)
        rtol, atol = PRECISIONS[precision]
        return Tolerance(
            rtol=self.number(value.get("rtol", rtol), "tolerance.rtol", positive=True),
            atol=self.number(value.get("atol", atol), "tolerance.atol", positive=True),
        )


def _headings(readme: Path) -> list[str]:
    """The Markdown headings of a README, without their ``#``."""
    return [line.lstrip("#").strip() for line in readme.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")]
