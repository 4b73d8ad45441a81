"""A pack's self-test: its reference solution passes, its wrong solutions fail as declared.

A pack folder holds ``selftest/reference.py``, which must pass every target,
and wrong solutions ``selftest/<mistake>.py``, each declaring the targets it
must fail, and only those, with a literal at module level::

    FAILS = ["w1", "b1", "x"]

Every solution runs in the sandbox like any submission, on several seeds.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .errors import PackError
from .grader import _Setup
from .packs import Pack
from .reports import Report
from .runner import Limits

SELFTEST_DIR = "selftest"
REFERENCE = "reference.py"
#: The seeds a self-test grades on by default: the public cases and two others.
DEFAULT_SEEDS = (None, 1, 2)


@dataclass(frozen=True)
class Solution:
    """A solution file of a pack's self-test and the targets it must fail (none for the reference)."""

    path: Path
    fails: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    """One solution graded on one seed: ``ok`` when it failed exactly what it declares."""

    pack: str
    solution: Solution
    seed: int
    failed: frozenset[str]
    report: Report

    @property
    def ok(self) -> bool:
        return self.failed == self.solution.fails

    def describe(self) -> str:
        """``"mlp2 seed 1: sum_not_mean fails w1, b1 as declared"`` or what went wrong."""
        name, declared = self.solution.path.stem, _names(self.solution.fails)
        head = f"{self.pack} seed {self.seed}: {name}"
        if self.ok:
            return f"{head} passes every target" if not self.solution.fails else f"{head} fails {declared} as declared"
        return (f"{head} fails {_names(self.failed) or 'nothing'}, declared {declared or 'nothing'}"
                + (f" ({self.report.status}: {self.report.message})" if self.report.status != "ok" else ""))


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
    if not reference.is_file():
        raise PackError(str(reference), "", "the pack's reference solution (bpgrade new writes one)")
    found = [Solution(reference, frozenset())]
    targets = [t.name for t in pack.targets]
    for path in sorted(folder.glob("*.py")):
        if path.name == REFERENCE:
            continue
        fails = _declared_fails(path)
        if not fails or not isinstance(fails, list) or not all(f in targets for f in fails):
            raise PackError(str(path), "FAILS", f"a non-empty list of the targets this solution must fail "
                            f"({', '.join(targets)})", fails)
        found.append(Solution(path, frozenset(fails)))
    return found


def _declared_fails(path: Path) -> object:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, OSError, UnicodeDecodeError) as e:
        raise PackError(str(path), "", "a readable Python file", str(e)) from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["FAILS"]:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def failed_targets(pack: Pack, report: Report) -> frozenset[str]:
    """The targets with at least one failing leaf (``layers`` when ``layers[2].w`` failed)."""
    failing = [r.name for r in report.targets if not r.passed]
    return frozenset(t.name for t in pack.targets
                     if any(n == t.name or n.startswith((t.name + "[", t.name + ".")) for n in failing))


def run(pack: Pack, seeds: Sequence[int | None] = DEFAULT_SEEDS, *, device: str | None = None,
        jobs: int | None = None) -> Iterator[Outcome]:
    """Grade every solution of ``pack`` on each seed (None: the public cases), in the sandbox.

    Yields each :class:`Outcome` as it is made, solutions in the order of
    :func:`solutions` within a seed.
    """
    files = solutions(pack)
    for seed in seeds:
        setup = _Setup.make(pack, seed, device)
        reports = {r.submission: r for r in setup.run_files(((s.path.stem, s.path) for s in files),
                                                            Limits.for_pack(pack), jobs)}
        for s in files:
            report = reports[s.path.stem]
            yield Outcome(pack.name, s, setup.cases[0].seed, failed_targets(pack, report), report)
