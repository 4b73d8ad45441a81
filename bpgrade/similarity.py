"""Similar submissions: pairs whose graded functions are nearly the same code once comments,
docstrings, formatting and names are set aside. For staff to look at, never a verdict.

A submission's code is reduced to :func:`units`: each graded function (by the names the pack's
submissions define, else every top-level function) as lines of Python with its arguments and
local variables renamed in order of appearance (``v0``, ``v1``, ...), docstrings dropped and the
layout made canonical by :func:`ast.unparse`. What it calls keeps its name (``np.sum``, a helper).
Two submissions are compared function by function of the same name, wherever each lies in its
file: the similarity is the share of their lines in common (:class:`difflib.SequenceMatcher`),
over all the functions of either.

The gradebook keeps each submission's code as it was read, and it is reduced here when staff ask
(:func:`normalised`): grading a batch spends nothing on it.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import json
from dataclasses import dataclass
from typing import Collection, Iterable, Mapping

#: Pairs at or above this similarity are listed, by default.
DEFAULT_THRESHOLD = 0.9
#: Functions shorter than this, together, say too little to compare (a template's stubs).
MIN_LINES = 6

Units = Mapping[str, list[str]]


@dataclass(frozen=True)
class Pair:
    """Two submissions, how much of their code is the same (0 to 1), and the lines they share
    (normalised: names as ``v0``, ``v1``, ...), by function."""

    a: str
    b: str
    similarity: float
    shared: Mapping[str, tuple[str, ...]]

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "similarity": round(self.similarity, 4),
                "shared": {name: list(lines) for name, lines in self.shared.items()}}


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def units(codes: Iterable[str], names: Collection[str] = ()) -> dict[str, list[str]]:
    """The normalised graded functions of ``codes`` (a file's Python text, or a notebook's cells),
    and the functions of the file they call, in turn: ``{name: lines}``, a helper named ``f0``,
    ``f1``, ... in the order the graded functions reach it (what a student calls it, and where it
    lies, do not count); a graded class's methods as ``Class.method``. A function defined twice
    counts as its last definition, as Python (and Run All) leaves it; what does not parse is left out."""
    defined: dict[str, ast.AST] = {}
    for code in codes:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        defined.update({node.name: node for node in tree.body if isinstance(node, (*_FUNCTIONS, ast.ClassDef))})
    graded = [name for name in names if name in defined] or [n for n, f in defined.items() if isinstance(f, _FUNCTIONS)]
    helpers: dict[str, str] = {}
    order = list(graded)
    for name in order:  # grows as helpers are found
        for node in ast.walk(defined[name]):
            called = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
            if called in defined and called not in graded and called not in helpers \
                    and isinstance(defined[called], _FUNCTIONS):
                helpers[called] = f"f{len(helpers)}"
                order.append(called)
    found = {}
    for name in order:
        node = defined[name]
        functions = [(name, node)] if isinstance(node, _FUNCTIONS) else \
            [(f"{name}.{f.name}", f) for f in node.body if isinstance(f, _FUNCTIONS)]
        for key, function in functions:
            try:
                found[helpers.get(key, key)] = ast.unparse(_Renamer(function, helpers).visit(function)).splitlines()[1:]
            except (RecursionError, ValueError):
                continue
    return found


def normalised(graded: Mapping) -> Units:
    """The units of a submission's code as the gradebook keeps it (``grader.graded_code``): a
    file's or a notebook's ``codes`` with the ``names`` graded, or an ``exercise`` cell's code. A
    gradebook written before keeps units already: they are as they were."""
    if "codes" in graded and "names" in graded:
        return units([c for c in graded["codes"] if isinstance(c, str)], [str(n) for n in graded["names"]])
    if "exercise" in graded and isinstance(graded["exercise"], list):
        return {"exercise": statements(c for c in graded["exercise"] if isinstance(c, str))}
    return graded


def statements(codes: Iterable[str]) -> list[str]:
    """Cells of statements (a notebook's exercise) as canonical lines: its names are the exercise's."""
    lines = []
    for code in codes:
        try:
            lines += ast.unparse(ast.parse(code)).splitlines()
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return lines


class _Renamer(ast.NodeTransformer):
    """A function's arguments and local names as ``v0``, ``v1``, ... in order of appearance, the
    helpers it calls by their canonical names, its docstring dropped. Other globals, builtins and
    attributes keep their names."""

    def __init__(self, function: ast.FunctionDef | ast.AsyncFunctionDef, helpers: Mapping[str, str]):
        arguments = function.args
        own = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                               *(a for a in (arguments.vararg, arguments.kwarg) if a)]]
        own += [n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        self.names = {**helpers, **{name: f"v{i}" for i, name in enumerate(dict.fromkeys(own))
                                    if not hasattr(builtins, name)}}

    def visit_FunctionDef(self, node):
        body = node.body[1:] if (node.body and isinstance(node.body[0], ast.Expr)
                                 and isinstance(node.body[0].value, ast.Constant)
                                 and isinstance(node.body[0].value.value, str)) else node.body
        node.body = body or [ast.Pass()]
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node


def similar_pairs(codes: Mapping[str, Units], threshold: float = DEFAULT_THRESHOLD) -> list[Pair]:
    """The pairs of submissions (ids of ``codes``) at least ``threshold`` alike, most alike first."""
    sized = {sub: found for sub, found in codes.items() if sum(map(len, found.values())) >= MIN_LINES}
    ids = sorted(sized)
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            pair = compare(a, sized[a], b, sized[b])
            if pair.similarity >= threshold:
                pairs.append(pair)
    return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))


def compare(a: str, units_a: Units, b: str, units_b: Units) -> Pair:
    """How alike two submissions' functions are (see the module's docstring)."""
    same, total, shared = 0, 0, {}
    for name in sorted(set(units_a) | set(units_b)):
        left, right = units_a.get(name, []), units_b.get(name, [])
        total += len(left) + len(right)
        blocks = difflib.SequenceMatcher(None, left, right, autojunk=False).get_matching_blocks()
        lines = [line for block in blocks for line in left[block.a:block.a + block.size]]
        same += 2 * len(lines)
        if lines:
            shared[name] = tuple(lines)
    return Pair(a, b, same / total if total else 0.0, shared)


def to_text(pairs: Iterable[Pair], threshold: float) -> str:
    """The pairs for people: each with its similarity and the lines it shares."""
    pairs = list(pairs)
    lines = [f"{len(pairs)} pairs of submissions at least {threshold:.0%} alike in their graded functions "
             "(comments, docstrings, layout and names set aside). For staff to look at: similar code is not "
             "proof of copying (a short exercise leaves little room to differ)."]
    for pair in pairs:
        lines.append(f"\n{pair.a} ~ {pair.b}: {pair.similarity:.0%}")
        for name, shared in pair.shared.items():
            lines.append(f"  {name}: {len(shared)} lines in common")
            lines += [f"    {line}" for line in shared[:8]]
            if len(shared) > 8:
                lines.append(f"    ... and {len(shared) - 8} more")
    return "\n".join(lines) + "\n"


def to_json(pairs: Iterable[Pair], threshold: float) -> str:
    return json.dumps({"threshold": threshold, "pairs": [p.to_dict() for p in pairs]}, indent=1) + "\n"
