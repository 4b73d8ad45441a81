"""Running a submission's functions on the cases: what to run, and what came back.

A :class:`Job` says what to call and with which inputs, under which
:class:`Limits`; a :class:`RunResult` is what came back. Submission files run
in the sandbox (:mod:`bpgrade.sandbox`); :func:`run_functions` calls functions
that already live in this process (the notebook API), where nothing is
isolated. Comparing a result against the truth is :mod:`bpgrade.compare`'s job.
"""

from __future__ import annotations

import ast
import builtins
import functools
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from . import _torch
from ._calls import MAX_MESSAGE, RETURN_KIND, TIMEOUT_KIND, call_targets
from ._oldnumpy import REMOVED
from .cases import Case
from .errors import SubmissionError
from .packs import Pack
from .safetext import clean
from .submissions import DEFAULT_MAX_SOURCE, size_text

#: What the worker may report it gave an older NumPy's meaning (checked: a worker's words are never shown).
REMOVED_NAMES = (*REMOVED, "reshape(newshape=)")
#: The error kinds shown for a hidden case: the built-in exceptions' names (a class of the
#: submission's own could carry anything in its name) and a bad return value.
SHOWN_KINDS = frozenset(name for name, value in vars(builtins).items()
                        if isinstance(value, type) and issubclass(value, BaseException)) | {RETURN_KIND,
                                                                                             TIMEOUT_KIND}

@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    ``wall`` and ``cpu`` are seconds; ``memory`` (address space),
    ``file_size`` (the most it may print) and ``source`` (the most code it may
    run: a notebook's outputs do not count) are bytes; ``output`` is how many
    characters of what it printed are kept in its report.
    """

    wall: float = 10.0
    cpu: float = 10.0
    memory: int = 1 << 30
    file_size: int = 1 << 20
    output: int = 4000
    source: int = DEFAULT_MAX_SOURCE

    @classmethod
    def for_pack(cls, pack: Pack, timeout: float | None = None, memory: int | None = None,
                 source: int | None = None) -> "Limits":
        wall = pack.timeout if timeout is None else timeout
        return cls(wall=wall, cpu=wall, memory=memory or cls.memory, source=source or cls.source)


@dataclass(frozen=True)
class Job:
    """What to run: the graded functions and, per case, their arguments.

    ``cases[i]`` is ``(inputs, params)``: the inputs in call order, and the
    params dict (None for a pack without parameters: then no params argument).
    Every array is float64; an input or a parameter may be a nest of lists and
    dicts of arrays. ``nested`` names the targets whose gradient is such a
    nest, to be returned and read back leaf by leaf. ``run_all_cells``: a
    notebook runs every code cell, not only its definitions
    (:mod:`bpgrade.notebooks`). The last ``hidden`` cases are hidden: a
    submission file sees them only after it has sent back its results on the
    others (:mod:`bpgrade.sandbox`).

    A pack's harness (``harness``, its source) is called instead of the
    submission's functions: ``groups`` maps each of its functions to the
    ``(target, key)`` pairs it computes, and ``names`` are what it reads
    from the submission. ``modules`` (name to source), ``display_only`` and
    ``allowed`` say what the submission may import (:mod:`bpgrade._imports`);
    ``module`` is what of a package submission is loaded. ``torch``: None
    where the pack does not allow PyTorch, else how its arguments are given
    (``"tensors"`` or ``"numpy"``). ``exercise``: what a notebook's exercise
    cell assigns, for the harness to run it (:class:`bpgrade.notebooks.Exercise`).
    """

    functions: Mapping[str, str]
    cases: tuple[tuple[tuple[Any, ...], Mapping[str, Any] | None], ...]
    limits: Limits
    forbidden: tuple[str, ...]
    nested: frozenset[str] = frozenset()
    run_all_cells: bool = False
    hidden: int = 0
    harness: str | None = None
    groups: Mapping[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    provided: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    modules: Mapping[str, str] = field(default_factory=dict)
    display_only: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    module: str | None = None
    torch: str | None = None
    exercise: tuple[str, ...] = ()

    @property
    def needed(self) -> tuple[str, ...]:
        """The names a submission must define: what the harness reads, else the graded functions."""
        return self.names if self.harness is not None else tuple(self.functions.values())

    @classmethod
    def for_pack(cls, pack: Pack, cases: Sequence[Case], limits: Limits | None = None,
                 nested: Collection[str] = (), run_all_cells: bool = False) -> "Job":
        return cls(
            functions={t.name: t.function for t in pack.targets},
            # A pack without parameters calls f(*inputs), with no params dict.
            cases=tuple((tuple(c.tensors[n] for n in pack.inputs),
                         {n: c.tensors[n] for n in pack.params} if pack.params else None) for c in cases),
            limits=limits or Limits.for_pack(pack),
            forbidden=pack.forbidden_modules,
            nested=frozenset(nested),
            run_all_cells=run_all_cells,
            # Case sets put the hidden cases last.
            hidden=sum(c.hidden for c in cases),
            harness=pack.harness.read_text(encoding="utf-8") if pack.harness else None,
            groups={call: tuple((t.name, t.key) for t in pack.targets if t.call == call)
                    for call in dict.fromkeys(t.call for t in pack.targets if t.call)},
            names=pack.harness_names,
            provided=pack.harness_provides,
            arguments=(*pack.inputs, *(["params"] if pack.params else [])),
            modules={name: path.read_text(encoding="utf-8") for name, path in pack.modules.items()},
            display_only=pack.display_only,
            allowed=pack.allowed_modules,
            module=pack.module,
            torch=None if "torch" not in pack.array_library else
            "tensors" if pack.array_library[0] == "torch" else "numpy",
            exercise=pack.exercise_names,
        )


@dataclass(frozen=True)
class TargetRun:
    """What one graded function returned.

    ``outputs[i]`` is its result on case ``i``, for the cases before
    ``error_case``: each leaf's path (``""`` for a bare array, ``"[2].w"``
    in a list of dicts) to its float64 array; ``dtypes`` the dtypes that the
    leaves were returned in. ``error`` is what went wrong on case
    ``error_case`` (the submission's own words), ``error_kind`` the name of
    the exception's class, ``"return"`` (a result that is not made of arrays
    of numbers) or ``"timeout"`` (past its share of the time). ``checked`` is
    False for a target whose function was left out of a dict given to
    :func:`bpgrade.check`.
    """

    missing: bool = False
    outputs: tuple[Mapping[str, np.ndarray], ...] = ()
    dtypes: tuple[str, ...] = ()
    error: str | None = None
    error_kind: str | None = None
    error_case: int | None = None
    memory: bool = False
    checked: bool = True


@dataclass(frozen=True)
class RunResult:
    """The outcome of running a submission.

    ``status`` is ``"ok"`` when it ran (its functions may still have failed),
    else ``"error"``, ``"timeout"``, ``"memory"`` or ``"forbidden"``, with ``message`` saying
    why. ``targets`` is empty unless the submission ran. ``notes`` say what
    of a notebook did not run; ``isolation`` how it was isolated. Every text
    in it that a submission controls has been through :func:`bpgrade.safetext.clean`.
    """

    status: str
    message: str = ""
    targets: Mapping[str, TargetRun] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    isolation: str = ""


def forbidden_imports(source: str, forbidden: Sequence[str]) -> list[str]:
    """The forbidden top-level modules that ``source`` imports, by statement or
    by ``__import__``/``importlib.import_module`` of a literal name.

    Raises:
      SyntaxError: ``source`` is not valid Python and names a forbidden module.
      SubmissionError: ``source`` is too deeply nested for Python's parser.
    """
    found: set[str] = set()
    # Walking the syntax tree costs milliseconds; most sources never name a forbidden module.
    if not any(name in source for name in forbidden):
        return []
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError) as e:
        # The parser's own limits (a chain of thousands of operators), hit in the grader.
        raise SubmissionError(f"the submission is too deeply nested for Python to read ({type(e).__name__})") from None
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("__import__", "import_module")):
            names = [node.args[0].value]
        found.update(n.partition(".")[0] for n in names if n.partition(".")[0] in forbidden)
    return sorted(found)


def forbidden_references(fn: Callable, forbidden: Sequence[str]) -> list[str]:
    """The forbidden modules that ``fn`` reaches through its globals or closure
    (``jax.grad``, or ``grad`` imported from jax), also through nested
    functions and through the other functions it calls by name."""

    def module_of(value) -> str:
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        return (name or "").partition(".")[0] if isinstance(name, str) else ""

    found: set[str] = set()
    seen: set[int] = set()
    functions = [fn]
    while functions:
        f = functions.pop()
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            continue
        seen.add(id(f))
        names, stack = set(), [code]
        while stack:
            c = stack.pop()
            names.update(c.co_names)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        values = [f.__globals__[n] for n in names if n in f.__globals__]
        values += [cell.cell_contents for cell in f.__closure__ or () if cell.cell_contents is not None]
        found.update(module_of(v) for v in values)
        functions.extend(v for v in values if isinstance(v, types.FunctionType))
    return sorted(found & set(forbidden))


def run_functions(functions: Mapping[str, Callable], job: Job) -> RunResult:
    """Run functions that live in this process, keyed by target name
    (``"w1"``) or function name (``"grad_w1"``). No isolation and no timeout:
    this is for a student checking their own work in a notebook."""
    by_target = {name: functions.get(name, functions.get(fn_name)) for name, fn_name in job.functions.items()}
    used = sorted({m for fn in by_target.values() if fn is not None for m in forbidden_references(fn, job.forbidden)})
    if used:
        return RunResult("forbidden", forbidden_message(used))
    start = time.perf_counter()
    header, arrays = call_targets(by_target, job.cases, job.nested)
    seconds = time.perf_counter() - start
    runs = _target_runs(header, arrays, len(job.cases))
    runs.update({name: TargetRun(missing=True, checked=False) for name, fn in by_target.items() if fn is None})
    return RunResult("ok", targets=runs, seconds=seconds, isolation="none: functions called in this process")


def forbidden_message(modules: Sequence[str]) -> str:
    return (f"uses {', '.join(modules)}: gradients must be derived by hand, so automatic differentiation "
            "earns no credit")


def result_from_frames(frames: Sequence[tuple[Mapping, Sequence[np.ndarray]]], job: Job, output: str = "",
                       seconds: float = 0.0, isolation: str = "") -> RunResult:
    """The RunResult that a worker's result frames describe: the public cases'
    frame, then, where the job has hidden cases and the submission imported,
    the hidden cases' frame.

    A frame is written by the worker, where the submission could have forged
    it: it can only lower the submission's own grade, and one whose results do
    not cover every case is an error. Of the hidden cases' frame only numbers
    and checked words are kept, never the submission's own text.
    """
    notes: tuple[str, ...] = ()

    def result(status: str, message: str = "", targets=None) -> RunResult:
        return RunResult(status, message, targets or {}, output, seconds, notes, isolation)

    try:
        old = [name for name in REMOVED_NAMES if any(name in (h.get("old_numpy") or ()) for h, _ in frames)]
        if old:
            notes = (f"NumPy {np.__version__}, here, has no {', '.join('np.' + n for n in old)}: "
                     "bpgrade gave them the meaning older NumPy gave them",)
        used = {str(m) for header, _ in frames for m in header.get("forbidden") or ()}
        if used & set(job.forbidden):
            return result("forbidden", forbidden_message(sorted(used & set(job.forbidden))))
        # Names the worker's guards recorded (bpgrade._torch): checked, never the submission's words.
        autograd = sorted({str(n) for header, _ in frames for n in header.get("autograd") or ()} & _torch.NAMES)
        if autograd:
            return result("forbidden", f"uses {', '.join(autograd)}: torch's automatic differentiation earns no "
                                       "credit; the gradients must be derived by hand")
        header, arrays = frames[0]
        if header.get("import_error"):
            status = "memory" if header.get("memory") else "error"
            why = f"ran out of memory (limit {size_text(job.limits.memory)})" if status == "memory" else "failed"
            error = clean(str(header["import_error"]), MAX_MESSAGE)
            return result(status, f"the submission {why} while being imported: {error}")
        n_public = len(job.cases) - job.hidden
        runs = _target_runs(header, arrays, n_public, job.functions)
        if job.hidden:
            hidden = _target_runs(*frames[1], job.hidden, job.functions)
            runs = {name: _joined(run, hidden[name], n_public) for name, run in runs.items()}
        return result("ok", targets=runs)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError):
        return result("error", "the submission's results could not be read")


def _joined(public: TargetRun, hidden: TargetRun, n_public: int) -> TargetRun:
    """One target's run on the public cases followed by its run on the hidden ones."""
    if public.missing or public.error is not None:
        return public
    # Missing only in the hidden cases (a name the harness reads that the submission removed after
    # the public ones): a failure in the first hidden case.
    failed = hidden.error is not None or hidden.missing
    return TargetRun(
        outputs=public.outputs + hidden.outputs,
        dtypes=tuple(sorted({*public.dtypes, *hidden.dtypes})),
        error="(in a hidden case)" if failed else None,
        error_kind=hidden.error_kind if hidden.error_kind in SHOWN_KINDS else None,
        error_case=n_public + (hidden.error_case or 0) if failed else None,
        memory=hidden.memory,
    )


@functools.lru_cache(maxsize=1024)
def _short(text: Any, limit: int) -> str:
    """A path or dtype that a worker wrote, cleaned (:func:`clean`); the few a batch holds, once each."""
    return clean(str(text), limit)


def _target_runs(header: Mapping, arrays: Sequence[np.ndarray], n_cases: int, expected: Mapping | None = None
                 ) -> dict[str, TargetRun]:
    """TargetRuns from a result header; with ``expected``, only those targets are read.

    Raises:
      ValueError: a record whose outputs do not cover every case up to its
        error (a result frame forged by the submission would fail here).
    """
    runs = {}
    for name in expected if expected is not None else header["targets"]:
        record = header["targets"][name]
        outputs = tuple({_short(path, 200): arrays[i] for path, i, _ in case} for case in record["outputs"])
        run = TargetRun(
            missing=bool(record["missing"]),
            outputs=outputs,
            dtypes=tuple(sorted({_short(dtype, 20) for case in record["outputs"] for _, _, dtype in case})),
            error=None if record["error"] is None else clean(str(record["error"]), MAX_MESSAGE),
            error_kind=None if record.get("error_kind") is None else clean(str(record["error_kind"]), 100),
            error_case=None if record["error_case"] is None else int(record["error_case"]),
            memory=bool(record.get("memory")),
        )
        covered = 0 if run.missing else n_cases if run.error is None else run.error_case
        if not 0 <= covered <= n_cases or len(run.outputs) != covered:
            raise ValueError(f"{name}: results for {len(run.outputs)} cases, expected {covered}")
        runs[name] = run
    return runs
