"""A pack's self-test: its reference solution passes, its wrong solutions fail as declared.

A pack folder holds ``selftest/reference.py`` (for a pack that grades
packages, ``selftest/reference/``, a folder holding the package), which must pass every target,
and wrong solutions ``selftest/<mistake>.py``, each declaring the targets it
must fail, and only those, and the diagnosis code each failing target must
get (None: no diagnosis), with literals at module level::

    FAILS = ["w1", "b1", "x"]
    DIAGNOSES = {"w1": "relu_mask", "b1": "relu_mask", "x": "relu_mask"}

A wrong solution that differs from the reference by a line or two may be only
that: ``EDITS = [("old text", "new text"), ...]`` (each old text found exactly
once in the reference, or in a package pack's module file of it) makes the
solution the reference so edited, so that a long reference (a notebook's
exported cells) is not copied into every wrong solution.

Every solution runs in the sandbox like any submission, on several seeds.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from .errors import PackError
from .grader import Prepared
from .packages import module_file
from .packs import Pack
from .reports import DIAGNOSIS_CODES, Report
from .runner import Limits

SELFTEST_DIR = "selftest"
REFERENCE = "reference.py"
#: The reference of a pack that grades packages: a folder holding the package. Each wrong
#: solution is then the module's file alone, run in a copy of the reference in its place.
REFERENCE_PACKAGE = "reference"
#: The seeds a self-test grades on by default: the public cases and two others.
DEFAULT_SEEDS = (None, 1, 2)


@dataclass(frozen=True)
class Solution:
    """A solution file of a pack's self-test, the targets it must fail (none
    for the reference), the diagnosis code of each (None: no diagnosis) and,
    for one written as edits of the reference, those edits."""

    path: Path
    fails: frozenset[str]
    diagnoses: Mapping[str, str | None] = field(default_factory=dict)
    edits: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One solution graded on one seed: ``ok`` when it failed exactly what it declares."""

    pack: str
    solution: Solution
    seed: int
    failed: frozenset[str]
    report: Report

    @property
    def misdiagnosed(self) -> list[str]:
        """``"w1: transpose, declared shape"`` for each failing leaf whose diagnosis is not the declared one."""
        found = []
        for result in self.report.targets:
            if result.passed:
                continue
            target = target_of(result.name, self.solution.diagnoses)
            got = result.diagnosis.code if result.diagnosis else None
            if target is not None and got != self.solution.diagnoses[target]:
                found.append(f"{result.name}: {got}, declared {self.solution.diagnoses[target]}")
        return found

    @property
    def ok(self) -> bool:
        return self.failed == self.solution.fails and not self.misdiagnosed

    def describe(self) -> str:
        """``"mlp2 seed 1: sum_not_mean fails w1, b1 as declared"`` or what went wrong."""
        name, declared = self.solution.path.stem, _names(self.solution.fails)
        head = f"{self.pack} seed {self.seed}: {name}"
        if self.ok:
            return (f"{head} passes every target" if not self.solution.fails
                    else f"{head} fails {declared} as declared, diagnosed as declared")
        if self.failed == self.solution.fails:
            return f"{head} fails {declared} as declared, but diagnosed {'; '.join(self.misdiagnosed)}"
        return (f"{head} fails {_names(self.failed) or 'nothing'}, declared {declared or 'nothing'}"
                + (f" ({self.report.status}: {self.report.message})" if self.report.status != "ok" else ""))


def target_of(leaf: str, targets: Iterable[str]) -> str | None:
    """The target among ``targets`` that a leaf (``layers[2].w``) belongs to."""
    for name in targets:
        if leaf == name or leaf.startswith((name + "[", name + ".")):
            return name
    return None


def _names(targets: frozenset[str]) -> str:
    return ", ".join(sorted(targets))


def solutions(pack: Pack) -> list[Solution]:
    """The reference solution first, then the wrong ones, sorted by name.

    Raises:
      PackError: no reference solution, or a wrong solution whose ``FAILS``
        is missing, not a list of target names, or empty.
    """
    folder = pack.root / SELFTEST_DIR
    reference = folder / REFERENCE
    if pack.module and (folder / REFERENCE_PACKAGE).is_dir():
        reference = folder / REFERENCE_PACKAGE
    elif not reference.is_file():
        raise PackError(str(reference), "", "the pack's reference solution (bpgrade new writes one)")
    found = [Solution(reference, frozenset())]
    targets = [t.name for t in pack.targets]
    for path in sorted(folder.glob("*.py")):
        if path == reference:
            continue
        declared = _declared(path)
        fails = declared.get("FAILS")
        if not fails or not isinstance(fails, list) or not all(f in targets for f in fails):
            raise PackError(str(path), "FAILS", f"a non-empty list of the targets this solution must fail "
                            f"({', '.join(targets)})", fails)
        diagnoses = declared.get("DIAGNOSES")
        if (not isinstance(diagnoses, dict) or set(diagnoses) != set(fails)
                or not all(code is None or code in DIAGNOSIS_CODES for code in diagnoses.values())):
            raise PackError(str(path), "DIAGNOSES", "a dict giving each target of FAILS its diagnosis code "
                            f"({', '.join(DIAGNOSIS_CODES)}) or None", diagnoses)
        edits = declared.get("EDITS", [])
        if not isinstance(edits, list) or not all(isinstance(e, (list, tuple)) and len(e) == 2
                                                  and all(isinstance(t, str) for t in e) and e[0] for e in edits):
            raise PackError(str(path), "EDITS", "a list of (old text, new text) pairs", edits)
        source = _edited_source(pack, reference) if edits else ""
        for old, _ in edits:
            if source.count(old) != 1:
                raise PackError(str(path), "EDITS", f"old texts found exactly once in the reference "
                                f"({source.count(old)} times)", old)
        found.append(Solution(path, frozenset(fails), diagnoses, tuple(map(tuple, edits))))
    return found


def _edited_source(pack: Pack, reference: Path) -> str:
    """The reference's text that a wrong solution's EDITS change: its file, or its package's module file."""
    path = reference / module_file(pack.module) if reference.resolve().is_dir() else reference
    return path.read_text(encoding="utf-8")


def _declared(path: Path) -> dict[str, object]:
    """The literals assigned at module level to FAILS, DIAGNOSES and EDITS (None where not a literal)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, OSError, UnicodeDecodeError) as e:
        raise PackError(str(path), "", "a readable Python file", str(e)) from None
    found: dict[str, object] = {}
    for node in tree.body:
        names = [getattr(t, "id", None) for t in node.targets] if isinstance(node, ast.Assign) else []
        if names in (["FAILS"], ["DIAGNOSES"], ["EDITS"]):
            try:
                found[names[0]] = ast.literal_eval(node.value)
            except ValueError:
                found[names[0]] = None
    return found


def failed_targets(pack: Pack, report: Report) -> frozenset[str]:
    """The targets with at least one failing leaf (``layers`` when ``layers[2].w`` failed)."""
    names = [t.name for t in pack.targets]
    return frozenset(target_of(r.name, names) for r in report.targets if not r.passed)


def run(pack: Pack, seeds: Sequence[int | None] = DEFAULT_SEEDS, *, device: str | None = None,
        jobs: int | None = None) -> Iterator[Outcome]:
    """Grade every solution of ``pack`` on each seed (None: the public cases), in the sandbox.

    Yields each :class:`Outcome` as it is made, solutions in the order of
    :func:`solutions` within a seed.
    """
    files = solutions(pack)
    with tempfile.TemporaryDirectory(prefix="bpgrade-selftest-") as scratch:
        # A pack's own files are trusted: a link among them (a shipped reference solution is one)
        # is followed here, where a submission's would not be.
        paths = {s.path.stem: _runnable(pack, s, files[0].path, Path(scratch)) for s in files}
        for seed in seeds:
            # By its folder: the truth store keeps what the pack's self-test computed (a Gradescope image's).
            setup = Prepared.make(pack.root, seed, device)
            runs = [(stem, path, ()) for stem, path in paths.items()]
            reports = {r.submission: r for r in setup.run_files(runs, Limits.for_pack(pack), jobs)}
            for s in files:
                report = reports[s.path.stem]
                yield Outcome(pack.name, s, setup.cases[0].seed, failed_targets(pack, report), report)


def _runnable(pack: Pack, solution: Solution, reference: Path, scratch: Path) -> Path:
    """What runs for a solution: its file (the reference edited, for one written as EDITS); for a
    package pack, a copy of the reference package (its links resolved: a submission's are
    refused) with, for a wrong solution, the module's file replaced by it."""
    path = solution.path
    text = None
    if solution.edits:
        text = _edited_source(pack, reference)
        for old, new in solution.edits:
            text = text.replace(old, new)
    if not reference.resolve().is_dir():
        if text is None:
            return path.resolve()
        # The file keeps the solution's name (reports name it), in a folder of its own.
        (scratch / "edited").mkdir(exist_ok=True)
        edited = scratch / "edited" / path.name
        edited.write_text(text, encoding="utf-8")
        return edited
    copy = scratch / path.stem
    shutil.copytree(reference.resolve(), copy)
    if path != reference:
        target = copy / module_file(pack.module)
        if text is None:
            shutil.copyfile(path, target)
        else:
            target.write_text(text, encoding="utf-8")
    return copy
