"""What NumPy 2 removed that correct code of a few years ago still uses, given back in the worker.

A student's ``np.float``, ``np.NaN``, ``np.product`` or ``np.reshape(a,
newshape=...)`` was right on the NumPy of their course; on the grader's NumPy 2
it fails with an error they cannot reproduce. :func:`install` (in the fork
server) gives these names and the keyword their old meaning, and :data:`USED`
records which a submission used, for the report to say so once. Imports
nothing but NumPy and the standard library.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

#: Each name NumPy 2 removed and what it meant.
REMOVED: dict[str, Callable[[], Any]] = {
    "float": lambda: float, "int": lambda: int, "complex": lambda: complex, "object": lambda: object,
    "str": lambda: str, "unicode": lambda: str, "NaN": lambda: np.nan, "Inf": lambda: np.inf,
    "Infinity": lambda: np.inf, "infty": lambda: np.inf, "PINF": lambda: np.inf, "NINF": lambda: -np.inf,
    "PZERO": lambda: 0.0, "NZERO": lambda: -0.0, "float_": lambda: np.float64, "complex_": lambda: np.complex128,
    "unicode_": lambda: np.str_, "string_": lambda: np.bytes_, "product": lambda: np.prod,
    "cumproduct": lambda: np.cumprod, "sometrue": lambda: np.any, "alltrue": lambda: np.all,
    "round_": lambda: np.round, "trapz": lambda: np.trapezoid, "in1d": lambda: _in1d,
    "asfarray": lambda: _asfarray, "msort": lambda: _msort, "mat": lambda: np.asmatrix,
}
#: The removed names and keywords that the submission used, in the order it first used them.
USED: list[str] = []


def _in1d(ar1, ar2, assume_unique=False, invert=False):
    return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)


def _asfarray(a, dtype=np.float64):
    return np.asarray(a, dtype=dtype if np.issubdtype(dtype, np.inexact) else np.float64)


def _msort(a):
    return np.sort(a, axis=0)


def install() -> None:
    """Give NumPy's removed names and ``reshape``'s ``newshape`` their old meaning."""
    removed_here = {name: make for name, make in REMOVED.items() if name not in np.__dict__}
    newer = np.__dict__.get("__getattr__")

    def __getattr__(name: str) -> Any:
        if name in removed_here:
            if name not in USED:
                USED.append(name)
            return removed_here[name]()
        if newer is None:
            raise AttributeError(f"module 'numpy' has no attribute {name!r}")
        return newer(name)

    np.__getattr__ = __getattr__
    reshape = np.reshape

    def old_reshape(a, *args, newshape=None, **kwargs):
        if newshape is not None:
            if "reshape(newshape=)" not in USED:
                USED.append("reshape(newshape=)")
            args = (newshape, *args)
        return reshape(a, *args, **kwargs)

    if _refuses_newshape(reshape):
        old_reshape.__doc__, old_reshape.__name__ = reshape.__doc__, reshape.__name__
        np.reshape = old_reshape


def _refuses_newshape(reshape: Callable) -> bool:
    try:
        reshape(np.zeros(1), newshape=(1,))
    except TypeError:
        return True
    return False
