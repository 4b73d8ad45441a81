"""bpgrade: a JAX reference and autograder for hand-derived backpropagation.

Networks are pure functions over parameter pytrees (:mod:`bpgrade.networks`);
``jax.grad`` gives the ground truth; :func:`check` grades a submission::

    import bpgrade
    report = bpgrade.check("mlp2", "submission.py")
    print(report)            # the table: target, pass/fail, points, reason
    report.to_dict()         # the JSON record

or, in a notebook, with the functions themselves::

    bpgrade.check("mlp2", {"w1": grad_w1, "b1": grad_b1})

The names below are imported when first used: importing the package itself
imports nothing (the sandbox's fork server imports its worker modules without
JAX).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_EXPORTS = {
    "BpgradeError": "errors", "DeviceError": "errors", "PackError": "errors", "SubmissionError": "errors",
    "Case": "cases", "generate_cases": "cases",
    "check": "grader",
    "Pack": "packs", "Target": "packs", "load_pack": "packs", "shipped_packs": "packs",
    "Diagnosis": "reports", "Report": "reports", "TargetResult": "reports",
    "networks": None,
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bpgrade' has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name] or name}", __name__)
    value = module if _EXPORTS[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
