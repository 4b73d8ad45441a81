"""Jupyter notebooks as submissions: which code of which cell runs.

A notebook is read with the standard library's json, in cell order. By
default only what the graded functions need runs: every top-level import and
function and class definition, and every other top-level statement that binds
or changes a name that the graded functions use, directly or through what
they use in turn (a dependency analysis of names, in every cell); the rest
(training loops, plots, prints) is left out, and said so in the report, with
where each left-out name is defined for a NameError to point at.
``run_all`` runs every code cell instead. In both modes IPython magics
(``%...``, ``%%...``) and shell escapes (``!...``) never run, a cell tagged
``skip-grading`` is left out, and display-only modules (matplotlib, tqdm, ...)
are not imported: their names stand for an object on which anything does
nothing. A cell that is not Python is left out, or with ``run_all`` stops the
run there, as in Jupyter.

Each cell runs under the file name ``cell N`` (N counts every cell of the
notebook from 1, markdown ones included) with its own line numbers, so that
errors point at the student's cell and line.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Mapping

from ._standins import DISPLAY_STUB
from .errors import SubmissionError
from .safetext import clean
from .submissions import DEFAULT_MAX_SOURCE, MAX_NOTEBOOK_BYTES, read_file, size_text

#: Modules that only show things; a notebook's imports of them are not run.
DISPLAY_ONLY = ("matplotlib", "seaborn", "tqdm", "IPython", "ipywidgets", "plotly")
SKIP_TAG = "skip-grading"
_HELP = re.compile(r"^\s*[\w.]+\s*\?\??\s*$")
_SHOWN = 50


@dataclass(frozen=True)
class Program:
    """What runs of a notebook: ``cells``, ``(cell number, code)`` in order, each
    with the cell's own line numbering; ``notes`` say what was left out;
    ``left_out`` maps each name that a left-out statement would have bound to
    where (``"cell 5, line 3"``)."""

    cells: tuple[tuple[int, str], ...]
    notes: tuple[str, ...]
    left_out: Mapping[str, str] = field(default_factory=dict)
    exercise: Exercise | None = None

    def source(self) -> str:
        """The code of every cell run, one after the other (for static checks)."""
        deferred = self.exercise.cells if self.exercise else ()
        return "\n".join(code for _, code in (*self.cells, *deferred))

    def to_json(self) -> str:
        """The form the worker reads: ``{"cells": [[number, code], ...], "exercise": ...}``
        (see :class:`Exercise`)."""
        data: dict = {"cells": [list(cell) for cell in self.cells]}
        if self.exercise is not None:
            data["exercise"] = {"cells": [list(cell) for cell in self.exercise.cells],
                                "steps": [list(step) for step in self.exercise.steps],
                                "assigns": list(self.exercise.assigns)}
        return json.dumps(data)


@dataclass(frozen=True)
class Exercise:
    """A notebook's exercise: the cells of statements a pack's harness runs on each case, over
    the globals it sets (makemore's backprop cell), instead of once among the others.

    ``cells``: ``(cell number, code)``; ``steps``: ``(cell number, first line, last line,
    names)``, the cells' top-level statements (those that share a line, as one), each with
    the names it binds or changes, so that a cell that raises halfway still leaves what it
    computed before; ``assigns``: the names the pack reads from it.
    """

    cells: tuple[tuple[int, str], ...]
    steps: tuple[tuple[int, int, int, tuple[str, ...]], ...]
    assigns: tuple[str, ...]


def read_notebook(path: str | Path, *, run_all: bool = False, max_code: int = DEFAULT_MAX_SOURCE,
                  functions: Collection[str] = (), provided: Collection[str] = (),
                  exercise: Collection[str] = ()) -> Program:
    """The :class:`Program` of the notebook at ``path`` (a file of at most
    :data:`~bpgrade.submissions.MAX_NOTEBOOK_BYTES`, whose code that runs is at
    most ``max_code`` bytes: outputs do not count) whose graded functions are
    named ``functions``.

    Raises:
      SubmissionError: the file cannot be read, is too large, is not JSON, is
        not nbformat 4, holds no code cell, or more code than ``max_code``.
    """
    data = read_file(path, MAX_NOTEBOOK_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SubmissionError(f"cannot read the notebook: {e}") from None
    program = parse_notebook(text, run_all=run_all, functions=functions, provided=provided, exercise=exercise)
    size = len(program.source().encode())
    if size > max_code:
        raise SubmissionError(f"the notebook runs {size_text(size)} of code; bpgrade runs at most "
                              f"{size_text(max_code)} (--max-size)")
    return program


#: A cell's first line in a notebook kept as a .py: Jupyter's export (``# In[3]:``) or the percent
#: format of VS Code, Spyder, PyCharm and jupytext (``# %%``, ``#%% [markdown]``).
_EXPORTED_CELL = re.compile(r"^(?:# In\[[ \d]*\]:|#[ \t]*%%(?![%\w]).*?)[ \t]*$", re.MULTILINE)
_CODE_LINE = re.compile(r"^[ \t]*[^#\s]", re.MULTILINE)


def exported_notebook(source: str) -> str | None:
    """The notebook (as JSON text) that a ``.py`` file kept as cells came from (Jupyter's export,
    or the percent format), one code cell per marker, and the code before the first marker, if
    any, as a cell of its own; None for a file without markers. Graded like the notebook, it runs
    its definitions, not its training loops and plots."""
    parts = _EXPORTED_CELL.split(source)
    if len(parts) < 2:
        return None
    # Before the first marker: Jupyter's `#!/usr/bin/env python` and `# coding: utf-8`, or code.
    parts = parts if _CODE_LINE.search(parts[0]) else parts[1:]
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": part.strip("\n")}
             for part in parts]
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells})


def parse_notebook(text: str, *, run_all: bool = False, functions: Collection[str] = (),
                   provided: Collection[str] = (), exercise: Collection[str] = ()) -> Program:
    """The :class:`Program` of a notebook's JSON text (see :func:`read_notebook`). ``provided``:
    names a pack's harness sets (a course's globals, such as fast.ai's ``w1``): what would
    compute them from the notebook's data is not needed. ``exercise``: the names that the
    cell holding a pack's exercise assigns (makemore's ``dlogprobs``, ...): that cell is the
    program's :class:`Exercise`, and what it reads from the other cells is needed."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SubmissionError(f"the notebook is not valid JSON ({e}); save it again from Jupyter") from None
    version = notebook.get("nbformat") if isinstance(notebook, dict) else None
    if version is not None and version != 4:
        raise SubmissionError(f"the notebook is nbformat {clean(repr(version), 20)}; bpgrade reads nbformat 4 "
                              "(open it in a current Jupyter and save it again)")
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError("the file is not a Jupyter notebook (no nbformat and no list of cells)")
    parsed: list[_Cell] = []
    notes: list[tuple[int, str]] = []  # (cell, note): in cell order at the end
    code_cells = 0
    for number, cell in enumerate(notebook["cells"], 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code_cells += 1
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(f"cell {number} of the notebook has no readable source")
        metadata = cell.get("metadata")
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
        if isinstance(tags, list) and SKIP_TAG in tags:
            notes.append((number, f"cell {number}: tagged {SKIP_TAG}, left out"))
            continue
        parsed.append(_parse_cell(number, source, run_all))
    if not code_cells:
        raise SubmissionError("the notebook has no code cells: write the gradient functions in code cells")
    found = _exercise_cells(parsed, exercise) if exercise else []
    parsed = [cell for cell in parsed if cell not in found]
    statements = [stmt for cell in parsed for stmt in cell.statements]
    try:
        # What the exercise reads and does not bind itself comes from the other cells.
        reads = _free_names([stmt for cell in found for stmt in cell.statements])
        kept = set(map(id, statements)) if run_all else _needed(statements, {*functions, *reads}, provided)
    except RecursionError:  # functions nested past Python's own limit: run only the definitions
        kept = {id(s) for s in statements if _definition(s)}
    # What the exercise needs from other cells but is computed from what the harness sets runs
    # with it, on each case (a cell's `B = batch_size`): at import, those values are not there yet.
    prelude = _prelude(statements, kept, provided) if found else []
    later = {id(stmt) for stmt in prelude}
    if exercise:
        notes.append((found[0].number if found else 0, _exercise_note(found, exercise, parsed, prelude)))
        notes += [(cell.number, f"cell {cell.number}: {note}") for cell in found for note in cell.notes]
    cells, left_out = [], {}
    for cell in parsed:
        code, cell_notes, names = cell.running(kept, later)
        notes += [(cell.number, f"cell {cell.number}: {note}") for note in cell_notes]
        left_out.update({name: where for name, where in names.items() if name not in left_out})
        if code.strip():
            cells.append((cell.number, code))
    ordered = [note for _, note in sorted(notes, key=lambda pair: pair[0])]
    partly = any(": left out `" in note for note in ordered)
    # Notes quote the notebook: text the submission controls.
    notes = [clean(note) for note in _capped(ordered, _SHOWN_NOTES * 5, "notes")]
    if partly:
        notes.append("only what the graded functions need ran; --run-all runs every code cell")
    parts = [(cell, [s for s in cell.statements if id(s) in later]) for cell in parsed] + \
        [(cell, cell.statements) for cell in found]
    return Program(tuple(cells), tuple(notes), left_out, _exercise(parts, exercise) if exercise else None)


def _exercise_cells(parsed: list[_Cell], assigns: Collection[str]) -> list[_Cell]:
    """The cells that hold the exercise: the one that binds the most of ``assigns`` (of equals,
    the later, whose values Run All leaves), and the cells beside it that bind any of them (a
    helper name besides), past cells that bind nothing (a cell of ``cmp(...)`` checks), as a
    student who split the exercise into cells wrote it; a cell that binds only other names (the
    forward pass, the next exercise's) ends it. None when no cell binds any."""
    wanted = set(assigns)
    binds = [set().union(*(_assigned(s) | _changed(s) for s in cell.statements)) for cell in parsed]
    counts = [len(names & wanted) for names in binds]
    if not any(counts):
        return []
    anchor = max(range(len(parsed)), key=lambda i: (counts[i], i))
    chosen = {anchor}
    for step in (1, -1):
        i = anchor + step
        while 0 <= i < len(parsed) and (counts[i] or not binds[i]):
            if counts[i]:
                chosen.add(i)
            i += step
    return [parsed[i] for i in sorted(chosen)]


def _exercise_note(found: list[_Cell], assigns: Collection[str], others: list[_Cell],
                   prelude: list[ast.stmt]) -> str:
    if not found:
        names = ", ".join(list(assigns)[:4]) + (", ..." if len(assigns) > 4 else "")
        return f"no cell computes any of {names}: the exercise was not found"
    numbers = [str(cell.number) for cell in found]
    where = f"cell {numbers[0]}" if len(found) == 1 else f"cells {', '.join(numbers[:-1])} and {numbers[-1]}"
    note = f"{where}: the exercise, run on each case after bpgrade sets the values it starts from (the forward pass's)"
    ids = {id(stmt) for stmt in prelude}
    before = list(dict.fromkeys(f"cell {cell.number}, line {stmt.lineno}" for cell in others
                                for stmt in cell.statements if id(stmt) in ids))
    if before:
        note += f", with what it reads that is computed from them before it: {', '.join(before[:5])}"
        note += f" and {len(before) - 5} more" if len(before) > 5 else ""
    return note


def _prelude(statements: list[ast.stmt], kept: set[int], provided: Collection[str]) -> list[ast.stmt]:
    """The statements kept that read what the harness provides, directly or through one another."""
    late, found = set(provided), []
    for stmt in statements:
        if id(stmt) in kept and not _definition(stmt) and _uses(stmt) & late:
            found.append(stmt)
            late |= _assigned(stmt) | _changed(stmt)
    return found


def _exercise(parts: list[tuple[_Cell, list[ast.stmt]]], assigns: Collection[str]) -> Exercise:
    """The :class:`Exercise` of ``(cell, its statements that run)``, in order: every statement of the
    exercise's cells, and before them what they need that is computed from what the harness sets;
    display-only imports made stand-ins."""
    cells, steps = [], []
    for cell, statements in parts:
        if not statements:
            continue
        code, _, _ = cell.running({id(stmt) for stmt in cell.statements})
        cells.append((cell.number, code))
        cell_steps: list[tuple[int, int, set[str]]] = []
        for stmt in statements:
            # A decorated definition starts at its first decorator.
            first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
            names = _assigned(stmt) | _changed(stmt)
            if cell_steps and first <= cell_steps[-1][1]:  # statements that share a line run as one
                begin, end, before = cell_steps.pop()
                cell_steps.append((begin, max(end, stmt.end_lineno), before | names))
            else:
                cell_steps.append((first, stmt.end_lineno, names))
        steps += [(cell.number, begin, end, tuple(sorted(names))) for begin, end, names in cell_steps]
    return Exercise(tuple(cells), tuple(steps), tuple(assigns))


def _free_names(statements: list[ast.stmt]) -> set[str]:
    """The names statements read and bind nowhere among themselves."""
    return (set().union(*map(_uses, statements))
            - set().union(*(_assigned(s) for s in statements)))


@dataclass
class _Cell:
    """One code cell: its code (magics and shell escapes made ``pass``), its top-level
    statements (none when it is not Python) and notes on what of it never runs."""

    number: int
    code: str
    statements: list[ast.stmt]
    notes: list[str]

    def running(self, kept: set[int], later: Collection[int] = ()) -> tuple[str, list[str], dict[str, str]]:
        """The code that runs (left-out statements made ``pass``, display-only imports
        made stand-ins, line numbers kept), the notes, and where each left-out name is bound.
        Statements ``later`` (by id) are made ``pass`` without a note: they run with the exercise."""
        if not self.statements:
            return self.code, self.notes, {}
        segment = _Segments(self.code)
        edits: list[tuple[ast.stmt, str]] = []
        left_out, display, names = [], [], {}
        for stmt in self.statements:
            if id(stmt) in later:
                edits.append((stmt, "pass"))
            elif id(stmt) in kept:
                stubs = [node for node in ast.walk(stmt) if _display_only(node)]
                edits += [(node, _stub(node)) for node in stubs]
                display += [f"line {node.lineno}, `{_short(segment(node))}`, imports a display-only module: "
                            "not imported" for node in stubs]
            else:
                edits.append((stmt, "pass"))
                left_out.append(stmt)
                names.update({name: f"cell {self.number}, line {stmt.lineno}" for name in _assigned(stmt)
                              if name not in names})
        notes = self.notes + _capped(display)
        if left_out:
            shown = [f"`{_short((segment(s).splitlines() or [''])[0])}` (line {s.lineno})" for s in left_out[:3]]
            more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
            notes.append(f"left out {', '.join(shown)}{more}")
        return _apply(segment, edits), notes, names


def _parse_cell(number: int, source: str, run_all: bool) -> _Cell:
    """A cell, parsed: a cell magic never runs; a cell that does not parse has its magics
    and shell escapes made ``pass``; one that still does not parse is left out (with
    ``run_all``, it runs, and stops the run there, as in Jupyter)."""
    first = source.lstrip()
    if first.startswith("%%"):
        return _Cell(number, "", [], [f"`{_short(first.splitlines()[0])}` is a cell magic: the cell is never run"])
    try:
        return _Cell(number, source, ast.parse(source).body, [])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    # Only a cell that is not Python holds magics: in one that is, a line that starts
    # with % continues an expression (`"%d" \n % x`) or lies in a string.
    lines = source.splitlines(keepends=True)
    escaped = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("%", "!")) or _HELP.match(line):
            kind = "a shell escape" if stripped.startswith("!") else "IPython syntax"
            escaped.append(f"line {i + 1}, `{_short(stripped)}`, is {kind}: never run")
            # `pass` keeps an enclosing block valid, and the line numbers.
            lines[i] = line[:len(line) - len(line.lstrip())] + "pass" + ("\n" if line.endswith("\n") else "")
    notes = _capped(escaped)
    code = "".join(lines)
    try:
        return _Cell(number, code, ast.parse(code).body, notes)
    except SyntaxError as e:
        if run_all:
            return _Cell(number, code, [], notes)  # the worker's compile stops there, as Jupyter would
        where = f"line {e.lineno}: `{_short(e.text or '')}`" if e.lineno else "?"
        return _Cell(number, "", [], notes + [f"is not Python ({e.msg}, {where}): left out"])
    except (ValueError, RecursionError, MemoryError) as e:
        return _Cell(number, "", [], notes + [f"cannot be read as Python ({type(e).__name__}): left out"])


def _needed(statements: list[ast.stmt], functions: Collection[str], provided: Collection[str] = ()) -> set[int]:
    """The statements (by id) that run: every definition, and every statement that binds or
    changes a name the graded ``functions`` use, directly or through what they use in turn,
    but for the ``provided`` names. A module is not changed by calling it
    (``np.random.shuffle(i)`` runs only if needed)."""
    modules = set().union(*(_assigned(s) for s in statements if isinstance(s, (ast.Import, ast.ImportFrom))))
    binders = [(s, _assigned(s) | (_changed(s) - modules)) for s in statements]
    kept = {id(s) for s in statements if _definition(s)}
    wanted, followed = set(functions), set()
    changed = True
    while changed:
        changed = False
        for stmt, binds in binders:
            if id(stmt) not in followed and binds & wanted - set(provided):
                kept.add(id(stmt))
                followed.add(id(stmt))
                wanted |= _uses(stmt)
                changed = True
    return kept


def _definition(stmt: ast.stmt) -> bool:
    """An import, a function or class definition, ``pass`` or a docstring, or a ``try`` of only
    those, whatever its fallbacks (``try: import tqdm except ImportError: tqdm = None``): what
    runs whatever is needed, as defining costs nothing."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                         ast.Pass)):
        return True
    if isinstance(stmt, ast.Try):
        return all(map(_definition, stmt.body + stmt.orelse + stmt.finalbody))
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _assigned(stmt: ast.stmt) -> set[str]:
    """The names a top-level statement binds: assigned, deleted, imported or defined anywhere in it."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.partition(".")[0] for a in node.names if a.name != "*")
    return names


def _changed(stmt: ast.stmt) -> set[str]:
    """The names whose objects a top-level statement changes in place: ``cache[k] = v``,
    ``params["w1"] -= lr * g``, ``net.w = w``, or a method called as a statement (``ws.append(w)``)."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(_base(node))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Attribute):
            names.add(_base(node.value.func))
    names.discard("")
    return names


def _base(node: ast.expr) -> str:
    """The name an attribute or subscript chain starts from (``a`` of ``a.b[0].c``), or ``""``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _uses(node: ast.AST) -> set[str]:
    """The names ``node`` reads where it runs: a function or class inside it adds only the names
    it reads from outside (its decorators, defaults and bases, and its body's free names)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        outer = [*getattr(node, "decorator_list", ()), *node.args.defaults,
                 *(d for d in node.args.kw_defaults if d is not None)]
        return set().union(*map(_uses, outer)) | _free(node)
    if isinstance(node, ast.ClassDef):
        outer = [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
        return set().union(*map(_uses, outer)) | set().union(*map(_uses, node.body))
    reads, stack = set(), [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            reads.add(item.id)
        elif item is not node and isinstance(item, _SCOPES):
            reads |= _uses(item)
        else:
            stack.extend(ast.iter_child_nodes(item))
    return reads


def _free(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """The names a function's body reads that are not its own (its arguments, the names it
    assigns unless declared global): the globals it uses."""
    arguments = function.args
    own = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                           *(a for a in (arguments.vararg, arguments.kwarg) if a)]}
    reads, declared = set(), set()
    stack = list(function.body) if isinstance(function.body, list) else [function.body]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            (reads if isinstance(item.ctx, ast.Load) else own).add(item.id)
        elif isinstance(item, (ast.Global, ast.Nonlocal)):
            declared.update(item.names)
        elif isinstance(item, _SCOPES):
            if not isinstance(item, ast.Lambda):
                own.add(item.name)
            reads |= _uses(item)
        else:
            stack.extend(ast.iter_child_nodes(item))
    return reads - (own - declared)


#: Notes of one kind shown per cell; the rest are counted.
_SHOWN_NOTES = 10


def _capped(notes: list[str], shown: int = _SHOWN_NOTES, what: str = "lines like these") -> list[str]:
    """The first ``shown`` of ``notes``, and a count of the rest."""
    if len(notes) <= shown:
        return notes
    return notes[:shown] + [f"and {len(notes) - shown} more {what}"]


#: A line as Python's parser counts lines: ended by \n, \r\n or \r only (not by a form feed or U+2028).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class _Segments:
    """The source text of a node of ``code`` (as :func:`ast.get_source_segment`, which
    splits the whole code on every call), from line offsets computed once."""

    def __init__(self, code: str):
        self.code = code
        self.lines = _LINE.findall(code)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        # ast columns count UTF-8 bytes.
        return self.starts[lineno - 1] + len(self.lines[lineno - 1].encode()[:col].decode(errors="ignore"))

    def __call__(self, node: ast.AST) -> str:
        return self.code[self.offset(node.lineno, node.col_offset):self.offset(node.end_lineno, node.end_col_offset)]


def _display_only(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.partition(".")[0] in DISPLAY_ONLY for a in node.names)
    return (isinstance(node, ast.ImportFrom) and node.level == 0 and bool(node.module)
            and node.module.partition(".")[0] in DISPLAY_ONLY)


def _stub(node: ast.Import | ast.ImportFrom) -> str:
    """What a display-only import becomes, on one line: its names bound to the do-nothing
    object. An import that mixes display-only and other modules (fast.ai's ``import
    pickle,gzip,torch,matplotlib as mpl``) still imports the others."""
    if isinstance(node, ast.ImportFrom):
        names = [a.asname or a.name for a in node.names if a.name != "*"]
        return " = ".join([*names, DISPLAY_STUB]) if names else "pass"
    shown = [a for a in node.names if a.name.partition(".")[0] in DISPLAY_ONLY]
    kept = [a for a in node.names if a not in shown]
    parts = ["import " + ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in kept)] if kept else []
    return "; ".join([*parts, " = ".join([*(a.asname or a.name.partition(".")[0] for a in shown), DISPLAY_STUB])])


def _apply(segment: _Segments, edits: list[tuple[ast.stmt, str]]) -> str:
    """The code with each node's text replaced, each keeping its line count; in one pass."""
    code = segment.code
    pieces, done = [], 0
    for node, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset)):
        begin = segment.offset(node.lineno, node.col_offset)
        end = segment.offset(node.end_lineno, node.end_col_offset)
        if begin < done:
            continue  # inside a node already replaced (an import inside a statement left out)
        pieces += [code[done:begin], text, "\n" * code.count("\n", begin, end)]
        done = end
    pieces.append(code[done:])
    return "".join(pieces)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"
