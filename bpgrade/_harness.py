"""A pack's harness in the worker: the instructor's functions, what they call the student's code
through, and a notebook's exercise cell run on each case.

A harness function is called as ``f(student, **case)`` (see docs/authoring.md). ``student`` is a
:class:`Student`: the submission's module, where a name it does not define raises
:class:`~bpgrade._calls.Missing`. For a course whose exercise is a cell of statements over the
notebook's globals (makemore's backprop exercise), the harness sets the globals the cell reads,
calls ``student.run_exercise()`` and returns ``student``: each target then reads its ``key``
(``student["dlogprobs"]``), so that a cell that stopped halfway still earns what it computed.

Imports nothing but the standard library and bpgrade's worker side.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Mapping, Sequence

from ._calls import Missing, OutOfTime, Stopped

#: The file name a pack's harness runs under: no submission's file can have it, so its lines are never quoted.
HARNESS_FILE = "<bpgrade harness>"


def harness_functions(harness: Mapping | None) -> dict[str, Callable] | None:
    """The functions of a pack's harness (trusted: run in the fork server, before any submission), by name."""
    if harness is None:
        return None
    module = types.ModuleType("bpgrade_harness")
    exec(compile(harness["source"], HARNESS_FILE, "exec", dont_inherit=True), module.__dict__)
    return {name: getattr(module, name) for name in harness["groups"]}


def compile_code(code: str, filename: str) -> types.CodeType:
    """Submission code compiled as Python compiles a file (``dont_inherit``: without this module's
    ``__future__`` imports).

    Raises:
      SyntaxError: it does not compile, or is too deeply nested for Python's parser (whose own
        limit is not the submission's memory).
    """
    try:
        return compile(code, filename, "exec", dont_inherit=True)
    except (RecursionError, MemoryError) as e:
        raise SyntaxError(f"too deeply nested for Python to compile ({type(e).__name__})") from None


def by_name(fn: Callable, student: "Student", names: Sequence[str]) -> Callable:
    """``fn`` called as ``fn(student, x=..., y=..., params=...)`` with a case's positional arguments."""
    def call(*args):
        return fn(student, **dict(zip(names, args)))
    return call


class Exercise:
    """A notebook's exercise cells (:attr:`bpgrade.notebooks.Program.exercise`), compiled, run
    statement by statement in the submission's module.

    ``steps`` are ``[cell number, first line, last line, names]``: top-level statements sharing no
    line with another, and the names they bind or change. ``assigns`` are the names the pack reads.
    """

    def __init__(self, cells: Sequence[Sequence], steps: Sequence[Sequence], assigns: Sequence[str]):
        codes = {number: code.splitlines(True) for number, code in cells}
        self.steps = []
        for number, first, last, names in steps:
            # Blank lines before the statement keep the cell's own line numbers in tracebacks.
            code = "\n" * (first - 1) + "".join(codes[number][first - 1:last])
            self.steps.append((compile_code(code, f"cell {number}"), frozenset(names)))
        self.assigns = tuple(assigns)
        #: Each name bound at or after the statement that raised on the last run, to what it raised.
        self.stopped: dict[str, BaseException] = {}

    def run(self, namespace: dict[str, Any]) -> None:
        """Run the cells once in ``namespace``, as Jupyter runs a cell: until a statement raises."""
        # A name the run does not bind again must not keep the previous case's value.
        for name in self.assigns:
            namespace.pop(name, None)
        self.stopped = {}
        for index, (code, _) in enumerate(self.steps):
            try:
                exec(code, namespace)
            except OutOfTime:
                raise
            except BaseException as e:  # noqa: BLE001 - what the student's cell raised, SystemExit included
                for _, names in self.steps[index:]:
                    self.stopped.update(dict.fromkeys(names, e))
                return


class Student:
    """What a harness calls the student's code through: their module's names, where a name
    they did not define raises :class:`~bpgrade._calls.Missing`; a name the harness sets is
    set in their module. ``student[name]`` reads a name as a target does (after
    :meth:`run_exercise`, a name the cell did not reach raises :class:`~bpgrade._calls.Stopped`)."""

    def __init__(self, namespace: dict[str, Any], exercise: Exercise | None = None):
        object.__setattr__(self, "_namespace", namespace)
        object.__setattr__(self, "_exercise", exercise)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._namespace[name]
        except KeyError:
            raise Missing(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # A course's globals that the harness provides (fast.ai's w1, b1, ...): set where the code finds them.
        self._namespace[name] = value

    def __getitem__(self, name: str) -> Any:
        if self._exercise is not None and name in self._exercise.stopped:
            raise Stopped(self._exercise.stopped[name])
        return self.__getattr__(name)

    def run_exercise(self) -> None:
        """Run the notebook's exercise cells (none for a submission without them) over its globals."""
        if self._exercise is not None:
            self._exercise.run(self._namespace)
