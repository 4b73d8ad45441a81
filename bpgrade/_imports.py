"""What a submission may import in a worker, and what it finds there.

The worker's import system holds, in this order: the blocker of the pack's
forbidden modules; a finder that refuses NumPy's on-demand modules (:data:`ON_DEMAND`)
where the server has not imported them; the pack's own modules (``modules:`` in exercise.yaml: a
course's helpers, such as ``planar_utils`` or ``cs231n.im2col``); the
submission's own files, when it is a package, or the ``.py`` files beside its
file in its folder; the parents of the pack's dotted
modules, empty, where the submission has none; the display-only modules
(``display_only:``), which do nothing; and last a finder that refuses anything
else, naming what may be imported. Every module is run from source that the
grader sent: nothing is looked up on a path. Imports nothing but the standard
library.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from typing import Collection, Mapping, Sequence

from ._standins import DisplayOnly

#: What a submission may import besides NumPy and the pack's allowed modules: imported by the
#: server before it forks, because a worker under its own uid may not be able to read the
#: interpreter's files (under /root, say).
PRELOAD = ("numpy.linalg", "numpy.fft", "math", "cmath", "itertools", "functools", "collections", "operator",
           "typing", "dataclasses", "copy", "numbers", "fractions", "decimal", "statistics", "random", "re",
           "string", "time", "warnings", "contextlib", "enum", "abc", "builtins", "__future__")
#: NumPy's modules that a submission may import too, but that the server imports only for a batch whose
#: code names them (:func:`named`): most submissions use neither, and each makes every fork and exit
#: dearer (with the modules they bring, several MB and about 100 mappings more; benchmarks/worker_cost.py).
ON_DEMAND = {"numpy.random": "random", "numpy.testing": "testing"}


def named(code: str) -> list[str]:
    """The :data:`ON_DEMAND` modules whose name ``code`` (a submission's, a pack's) holds: ``np.random``,
    ``from numpy.testing import ...``. Code that reaches one without naming it (``"ran" + "dom"``) finds
    it missing, as it would find any module that may not be imported."""
    return [module for module, word in ON_DEMAND.items() if word in code]


class ImportBlocker:
    """Refuses the import of the pack's forbidden modules and remembers who asked."""

    def __init__(self, names: Sequence[str]):
        self.names = frozenset(names)
        self.attempts: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.names:
            self.attempts.append(top)
            raise ImportError(f"{top} is not allowed here: the gradients must be derived by hand, "
                              "without automatic differentiation")
        return None


class Unavailable:
    """The last finder: names what a submission may import when it asks for anything else."""

    def __init__(self, allowed: Sequence[str] = ()):
        standard = ", ".join(m for m in PRELOAD if "." not in m and not m.startswith("_"))
        self.said = f"numpy and these standard modules: {standard}" + (
            f"; and, for this exercise, {', '.join(allowed)}" if allowed else "")

    def find_spec(self, fullname, path=None, target=None):
        raise ModuleNotFoundError(f"No module named {fullname!r} here: a submission may import {self.said}",
                                  name=fullname)


class NotNamed:
    """Refuses the :data:`ON_DEMAND` modules that the server did not import (no code of the batch so far
    named them), which NumPy's own path would otherwise find half-importable."""

    def __init__(self, names: Collection[str]):
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        for name in self.names:
            if fullname == name or fullname.startswith(name + "."):
                word = ON_DEMAND[name]
                raise ModuleNotFoundError(f"No module named {fullname!r} here: bpgrade imports {name} for code that "
                                          f"names it (np.{word}, import {name}), and this code does not",
                                          name=fullname)
        return None


class _SourceLoader:
    """Runs a module from source text, under a file name its errors quote."""

    def __init__(self, source: str, filename: str):
        self.source, self.filename = source, filename

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = self.filename
        code = compile(self.source, self.filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class SourceModules:
    """Modules from source text, by full name: ``{name: (filename, source, is_package)}``."""

    def __init__(self, modules: Mapping[str, tuple[str, str, bool]]):
        self.modules = dict(modules)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.modules:
            return None
        filename, source, package = self.modules[fullname]
        spec = importlib.machinery.ModuleSpec(fullname, _SourceLoader(source, filename), origin=filename,
                                              is_package=package)
        if package:
            spec.submodule_search_locations = []
        return spec


def package_modules(files: Mapping[str, str]) -> dict[str, tuple[str, str, bool]]:
    """The modules of a package submission from its files (``{"cs231n/layers.py": source}``):
    every folder is a package (with its ``__init__.py``, or empty), every ``.py`` file a module."""
    modules: dict[str, tuple[str, str, bool]] = {}
    for path, source in files.items():
        parts = path[:-3].split("/")
        for depth in range(1, len(parts)):
            name = ".".join(parts[:depth])
            modules.setdefault(name, ("/".join(parts[:depth]) + "/__init__.py", "", True))
        if parts[-1] == "__init__":
            modules[".".join(parts[:-1])] = (path, source, True)
        else:
            modules[".".join(parts)] = (path, source, False)
    return modules


def parents(names: Collection[str]) -> dict[str, tuple[str, str, bool]]:
    """Empty packages for the parents of dotted module names (``cs231n`` of ``cs231n.im2col``)."""
    return {".".join(name.split(".")[:depth]): ("<bpgrade>", "", True)
            for name in names for depth in range(1, name.count(".") + 1)}


class DisplayOnlyModules:
    """Modules that stand in as doing nothing (``sklearn``, ``matplotlib.pyplot``): each attribute is a
    :class:`~bpgrade._standins.DisplayOnly`."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        if not any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return _DisplayModule(spec.name)

    def exec_module(self, module):
        pass


class _DisplayModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return DisplayOnly()


def install(forbidden: Sequence[str], pack_modules: Mapping[str, str], package: Mapping[str, str] | None,
            display_only: Sequence[str], allowed: Sequence[str], siblings: Mapping[str, str] | None = None
            ) -> ImportBlocker:
    """Set the worker's import system up as the module's docstring says; returns the blocker.

    Args:
      forbidden: top-level modules whose import is refused and reported.
      pack_modules: the pack's modules, ``{"cs231n.im2col": source}``.
      package: a package submission's files, ``{"cs231n/layers.py": source}`` (None: not a package).
      display_only, allowed: module names, from the pack.
      siblings: the ``.py`` files beside a submission's file, ``{"alice/utils.py": source}``: top-level
        modules (``utils``), under their file names.
    """
    blocker = ImportBlocker(forbidden)
    ours = {name: (f"<{name}>", source, False) for name, source in pack_modules.items()}
    theirs = package_modules(package) if package else {}
    for path, source in (siblings or {}).items():
        theirs[path.rpartition("/")[2][:-3]] = (path, source, False)
    sys.meta_path.insert(0, blocker)
    sys.meta_path.insert(1, NotNamed([name for name in ON_DEMAND if name not in sys.modules]))
    sys.meta_path.insert(2, SourceModules(ours))
    sys.meta_path.insert(3, SourceModules(theirs))
    sys.meta_path.insert(4, SourceModules({k: v for k, v in parents(ours).items() if k not in theirs}))
    sys.meta_path.insert(5, DisplayOnlyModules(display_only))
    sys.meta_path.append(Unavailable(allowed))
    # What a submission may import is imported already: nothing else is found on a path (an
    # installed package such as scipy gets the message that lists what may be imported).
    sys.path.clear()
    return blocker
