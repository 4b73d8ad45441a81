"""Jupyter notebooks as submissions: which code of which cell runs.

A notebook is read with the standard library's json, in cell order. By
default only what the gradient functions need runs: each code cell's
top-level imports, function and class definitions and constant assignments;
the rest (training loops, plots, prints) is left out, and said so in the
report. ``run_all`` runs every code cell instead. In both modes IPython
magics (``%...``, ``%%...``) and shell escapes (``!...``) never run, a cell
tagged ``skip-grading`` is left out, and display-only modules (matplotlib,
tqdm, ...) are not imported: their names stand for an object on which
anything does nothing. A cell that is not Python is left out, or with
``run_all`` stops the run there, as in Jupyter.

Each cell runs under the file name ``cell N`` (N counts every cell of the
notebook from 1, markdown ones included) with its own line numbers, so that
errors point at the student's cell and line.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ._standins import DISPLAY_STUB, NOTEBOOK_NAMES
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
    with the cell's own line numbering; ``notes`` say what was left out."""

    cells: tuple[tuple[int, str], ...]
    notes: tuple[str, ...]

    def source(self) -> str:
        """The code of every cell run, one after the other (for static checks)."""
        return "\n".join(code for _, code in self.cells)

    def to_json(self) -> str:
        """The form the worker reads: ``{"cells": [[number, code], ...]}``."""
        return json.dumps({"cells": [list(cell) for cell in self.cells]})


def read_notebook(path: str | Path, *, run_all: bool = False, max_code: int = DEFAULT_MAX_SOURCE) -> Program:
    """The :class:`Program` of the notebook at ``path`` (a file of at most
    :data:`~bpgrade.submissions.MAX_NOTEBOOK_BYTES`, whose code that runs is at
    most ``max_code`` bytes: outputs do not count).

    Raises:
      SubmissionError: the file cannot be read, is too large, is not JSON, is
        not nbformat 4, holds no code cell, or more code than ``max_code``.
    """
    data = read_file(path, MAX_NOTEBOOK_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SubmissionError(f"cannot read the notebook: {e}") from None
    program = parse_notebook(text, run_all=run_all)
    size = len(program.source().encode())
    if size > max_code:
        raise SubmissionError(f"the notebook runs {size_text(size)} of code; bpgrade runs at most "
                              f"{size_text(max_code)} (--max-size)")
    return program


def parse_notebook(text: str, *, run_all: bool = False) -> Program:
    """The :class:`Program` of a notebook's JSON text (see :func:`read_notebook`)."""
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
    cells, notes, code_cells = [], [], 0
    # Names that exist when a cell runs: a kept constant may only use these.
    defined = set(dir(builtins)) | set(NOTEBOOK_NAMES)
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
            notes.append(f"cell {number}: tagged {SKIP_TAG}, left out")
            continue
        code, cell_notes = _cell_code(source, run_all, defined)
        notes += [f"cell {number}: {note}" for note in cell_notes]
        if code.strip():
            cells.append((number, code))
    if not code_cells:
        raise SubmissionError("the notebook has no code cells: write the gradient functions in code cells")
    partly = any(": left out `" in note for note in notes)
    # Notes quote the notebook: text the submission controls.
    notes = [clean(note) for note in _capped(notes, _SHOWN_NOTES * 5, "notes")]
    if partly:
        notes.append("only imports, definitions and constants ran; --run-all runs every code cell")
    return Program(tuple(cells), tuple(notes))


def _cell_code(source: str, run_all: bool, defined: set[str]) -> tuple[str, list[str]]:
    """The code of one cell that runs, with its line numbers kept, and notes on what does not.
    ``defined`` (the names that earlier cells define) gains the names this cell defines."""
    first = source.lstrip()
    if first.startswith("%%"):
        return "", [f"`{_short(first.splitlines()[0])}` is a cell magic: the cell is never run"]
    notes = []
    code = source
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
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
        notes += _capped(escaped)
        code = "".join(lines)
        try:
            tree = ast.parse(code)
        except SyntaxError as e:
            if run_all:
                return code, notes  # the worker's compile stops there, at this cell and line, as Jupyter would
            where = f"line {e.lineno}: `{_short(e.text or '')}`" if e.lineno else "?"
            return "", notes + [f"is not Python ({e.msg}, {where}): left out"]
        except (ValueError, RecursionError, MemoryError) as e:
            return "", notes + [f"cannot be read as Python ({type(e).__name__}): left out"]
    segment = _Segments(code)
    edits: list[tuple[ast.stmt, str]] = []
    left_out = []
    display = []
    for stmt in tree.body:
        if run_all or _needed(stmt, defined):
            stubs = [node for node in ast.walk(stmt) if _display_only(node)]
            edits += [(node, _stub(node)) for node in stubs]
            display += [f"line {node.lineno}, `{_short(segment(node))}`, imports a display-only module: not imported"
                        for node in stubs]
            defined |= _bound(stmt)
        else:
            edits.append((stmt, "pass"))
            left_out.append(stmt)
    notes += _capped(display)
    if left_out:
        shown = [f"`{_short((segment(s).splitlines() or [''])[0])}` (line {s.lineno})" for s in left_out[:3]]
        more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        notes.append(f"left out {', '.join(shown)}{more}")
    return _apply(code, edits), notes


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


def _needed(stmt: ast.stmt, defined: set[str]) -> bool:
    """Whether a top-level statement is one the gradient functions may need: an
    import, a definition, or a constant made of names that are ``defined``."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                         ast.Pass)):
        return True
    if isinstance(stmt, ast.Assign):
        return all(_names(t) for t in stmt.targets) and _constant(stmt.value, defined)
    if isinstance(stmt, ast.AnnAssign):
        return isinstance(stmt.target, ast.Name) and (stmt.value is None or _constant(stmt.value, defined))
    if isinstance(stmt, ast.Try):
        body = stmt.body + stmt.orelse + stmt.finalbody + [s for h in stmt.handlers for s in h.body]
        return all(_needed(s, defined) for s in body)
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)  # a docstring


def _names(target: ast.expr) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(map(_names, target.elts))
    return isinstance(target, ast.Name)


_CONSTANT_NODES = (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp, ast.BoolOp,
                   ast.Compare, ast.Name, ast.Attribute, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
                   ast.expr_context)


def _constant(value: ast.expr, defined: set[str]) -> bool:
    """Literals and arithmetic on them and on ``defined`` names (``EPS = 1e-8``,
    ``act = np.tanh``), or a lambda: nothing that calls, indexes or loops."""
    if isinstance(value, ast.Lambda):
        return True
    nodes = list(ast.walk(value))
    return (all(isinstance(n, _CONSTANT_NODES) for n in nodes)
            and all(n.id in defined for n in nodes if isinstance(n, ast.Name)))


def _bound(stmt: ast.stmt) -> set[str]:
    """The names a top-level statement binds (a ``try``: in any of its branches)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {a.asname or a.name.partition(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.Try):
        body = stmt.body + stmt.orelse + stmt.finalbody + [s for h in stmt.handlers for s in h.body]
        return set().union(*map(_bound, body))
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _display_only(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.partition(".")[0] in DISPLAY_ONLY for a in node.names)
    return (isinstance(node, ast.ImportFrom) and node.level == 0 and bool(node.module)
            and node.module.partition(".")[0] in DISPLAY_ONLY)


def _stub(node: ast.Import | ast.ImportFrom) -> str:
    """What a display-only import becomes: its names bound to the do-nothing object.
    (An import that mixes display-only and other modules binds them all to it.)"""
    if isinstance(node, ast.Import):
        names = [a.asname or a.name.partition(".")[0] for a in node.names]
    else:
        names = [a.asname or a.name for a in node.names if a.name != "*"]
    return " = ".join([*names, DISPLAY_STUB]) if names else "pass"


def _apply(code: str, edits: list[tuple[ast.stmt, str]]) -> str:
    """``code`` with each node's text replaced, each keeping its line count; in one pass."""
    segment = _Segments(code)
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
