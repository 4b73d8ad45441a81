"""Running a submission's functions on the cases: what to run, and what came back.

A :class:`Job` says what to call and with which inputs, under which
:class:`Limits`; a :class:`RunResult` is what came back. Submission files run
in the sandbox (:mod:`bpgrade.sandbox`); :func:`run_functions` calls functions
that already live in this process (the notebook API), where nothing is
isolated. Comparing a result against the truth is :mod:`bpgrade.compare`'s job.
"""

from __future__ import annotations

import ast
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from . import _worker
from .cases import Case
from .packs import Pack

@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    ``wall`` and ``cpu`` are seconds; ``memory`` (address space) and
    ``file_size`` (the largest file it may write, its printed output included)
    are bytes; ``processes`` bounds the processes and threads of its uid, the
    worker included (only enforced where workers run under their own uid: 1,
    the default, lets a submission start neither); ``output`` is how many
    characters of what it printed are kept in its report.
    """

    wall: float = 10.0
    cpu: float = 10.0
    memory: int = 1 << 30
    processes: int = 1
    file_size: int = 1 << 20
    output: int = 4000

    @classmethod
    def for_pack(cls, pack: Pack, timeout: float | None = None, memory: int | None = None) -> "Limits":
        wall = pack.timeout if timeout is None else timeout
        return cls(wall=wall, cpu=wall, memory=memory or cls.memory)


@dataclass(frozen=True)
class Job:
    """What to run: the graded functions and, per case, their arguments.

    ``cases[i]`` is ``(inputs, params)``: the inputs in call order, and the
    params dict (None for a pack without parameters: then no params argument).
    Every array is float64; an input or a parameter may be a nest of lists and
    dicts of arrays. ``nested`` names the targets whose gradient is such a
    nest, to be returned and read back leaf by leaf. ``run_all_cells``: a
    notebook runs every code cell, not only its definitions
    (:mod:`bpgrade.notebooks`).
    """

    functions: Mapping[str, str]
    cases: tuple[tuple[tuple[Any, ...], Mapping[str, Any] | None], ...]
    limits: Limits
    forbidden: tuple[str, ...]
    nested: frozenset[str] = frozenset()
    run_all_cells: bool = False

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
        )


@dataclass(frozen=True)
class TargetRun:
    """What one graded function returned.

    ``outputs[i]`` is its result on case ``i``, for the cases before
    ``error_case``: each leaf's path (``""`` for a bare array, ``"[2].w"``
    in a list of dicts) to its float64 array; ``dtypes`` the dtypes that the
    leaves were returned in.
    """

    missing: bool = False
    outputs: tuple[Mapping[str, np.ndarray], ...] = ()
    dtypes: tuple[str, ...] = ()
    error: str | None = None
    error_case: int | None = None
    memory: bool = False


@dataclass(frozen=True)
class RunResult:
    """The outcome of running a submission.

    ``status`` is ``"ok"`` when it ran (its functions may still have failed),
    else ``"error"``, ``"timeout"``, ``"memory"`` or ``"forbidden"``, with ``message`` saying
    why. ``targets`` is empty unless the submission ran. ``notes`` say what
    of a notebook did not run.
    """

    status: str
    message: str = ""
    targets: Mapping[str, TargetRun] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()


def forbidden_imports(source: str, forbidden: Sequence[str]) -> list[str]:
    """The forbidden top-level modules that ``source`` imports, by statement or
    by ``__import__``/``importlib.import_module`` of a literal name.

    Raises:
      SyntaxError: ``source`` is not valid Python and names a forbidden module.
    """
    found: set[str] = set()
    # Walking the syntax tree costs milliseconds; most sources never name a forbidden module.
    if not any(name in source for name in forbidden):
        return []
    for node in ast.walk(ast.parse(source)):
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
    header, arrays = _worker.call_targets(by_target, job.cases, job.nested)
    seconds = time.perf_counter() - start
    return RunResult("ok", targets=_target_runs(header, arrays, len(job.cases)), seconds=seconds)


def forbidden_message(modules: Sequence[str]) -> str:
    return (f"uses {', '.join(modules)}: gradients must be derived by hand, so automatic differentiation "
            "earns no credit")


def result_from_frame(header: Mapping, outputs: Sequence[np.ndarray], job: Job, output: str = "",
                      seconds: float = 0.0) -> RunResult:
    """The RunResult that a worker's result frame describes.

    A frame is written by the worker, where the submission could have forged
    it: it can only lower the submission's own grade, and one whose results do
    not cover every case is an error.
    """
    def result(status: str, message: str = "", targets=None) -> RunResult:
        return RunResult(status, message, targets or {}, output, seconds)

    if header.get("forbidden"):
        return result("forbidden", forbidden_message([str(m) for m in header["forbidden"]]))
    if header.get("import_error"):
        status = "memory" if header.get("memory") else "error"
        why = f"ran out of memory (limit {_size(job.limits.memory)})" if status == "memory" else "failed"
        return result(status, f"the submission {why} while being imported: {header['import_error']}")
    try:
        return result("ok", targets=_target_runs(header, outputs, len(job.cases), job.functions))
    except (KeyError, TypeError, IndexError, ValueError):
        return result("error", "the submission's results could not be read")


def _size(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB"


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
        outputs = tuple({str(path): arrays[i] for path, i, _ in case} for case in record["outputs"])
        run = TargetRun(
            missing=bool(record["missing"]),
            outputs=outputs,
            dtypes=tuple(sorted({str(dtype) for case in record["outputs"] for _, _, dtype in case})),
            error=None if record["error"] is None else str(record["error"])[:_worker.MAX_MESSAGE],
            error_case=None if record["error_case"] is None else int(record["error_case"]),
            memory=bool(record.get("memory")),
        )
        covered = 0 if run.missing else n_cases if run.error is None else run.error_case
        if not 0 <= covered <= n_cases or len(run.outputs) != covered:
            raise ValueError(f"{name}: results for {len(run.outputs)} cases, expected {covered}")
        runs[name] = run
    return runs
