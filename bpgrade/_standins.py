"""Stand-ins for what a notebook's cells find defined in Jupyter, and for display-only modules.

:mod:`bpgrade.notebooks` writes a notebook's display-only imports as bindings
to :data:`DISPLAY_STUB`; the worker defines :data:`NOTEBOOK_NAMES` in the
module that a notebook's cells run in.
"""

from __future__ import annotations

from typing import Any


#: The name a notebook's display-only imports are bound to (bpgrade.notebooks writes it).
DISPLAY_STUB = "__bpgrade_display__"
#: What a notebook's cells (and the .py file Jupyter exports) find defined without an import: each a DisplayOnly.
NOTEBOOK_NAMES = ("display", "get_ipython", DISPLAY_STUB)


class DisplayOnly:
    """What a display-only module (matplotlib, tqdm, ...) of a notebook is: anything
    done with it does nothing. Called on one iterable (``tqdm(range(9))``) it
    gives the iterable back; unpacked (``fig, ax = plt.subplots()``) it gives two
    of itself."""

    def __getattr__(self, name: str) -> "DisplayOnly":
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and hasattr(args[0], "__iter__") and not isinstance(args[0], (str, bytes)):
            return args[0]
        return self

    def __getitem__(self, key: Any) -> "DisplayOnly":
        return self

    def __iter__(self):
        return iter((self, self))

    def __enter__(self) -> "DisplayOnly":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False


