"""PyTorch as an array library in a worker, with every way into its autograd refused.

A pack that allows torch (``array_library`` in exercise.yaml) grades code that
writes its backward pass by hand with tensors: fast.ai's ``.g`` attributes,
makemore's ``d<name>`` statements. Torch's autograd is what must not compute
the gradients. The fork server calls :func:`prepare` once, before it forks the
first worker that may use torch: torch is imported and pinned to one thread
(a worker may create no thread), grad mode is turned off, and each public
entry into autograd is replaced by a guard that records its name and raises
:class:`AutogradRefused`. What was recorded makes the submission ``forbidden``,
naming what it used. A result tensor that requires grad or has a ``grad_fn``
is refused too.

Imports nothing but NumPy and the standard library until :func:`prepare` runs.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any, Callable, NoReturn

import numpy as np

#: The names of the autograd entries a submission used, in the order it used them.
USED: list[str] = []


class AutogradRefused(BaseException):
    """Raised by a guarded autograd entry (a BaseException, so that ``except Exception`` in the
    submission lets it through)."""


#: The entries into autograd that guards replace: (where, attribute); a guard reports
#: "where.attribute", Tensor's methods as "Tensor.method".
_GUARDED = (
    ("Tensor", "backward"), ("Tensor", "requires_grad_"), ("Tensor", "retain_grad"),
    ("torch.autograd", "backward"), ("torch.autograd", "grad"),
    *(("torch.autograd.functional", n) for n in ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp")),
    *(("torch.func", n) for n in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")),
    # Forward mode needs no grad mode: its dual numbers are refused where they are made.
    *(("torch.autograd.forward_ad", n) for n in ("dual_level", "make_dual", "unpack_dual")),
    *(("torch._C", n) for n in ("_set_grad_enabled", "_make_dual", "_unpack_dual", "_set_fwd_grad_enabled",
                                "_enter_dual_level")),
)
#: Every name a worker may report (the grader keeps only these: never the submission's words).
NAMES = frozenset({f"{where}.{attribute}" for where, attribute in _GUARDED}
                  | {"torch.set_grad_enabled(True)", "torch.enable_grad", "Tensor.requires_grad = True",
                     "the autograd engine", "a result tensor that requires grad", "grad mode turned on"})

_prepared = False
#: torch._C._set_grad_enabled itself, kept before it is guarded.
_real_set_grad_enabled: Callable[[bool], None] | None = None


def _refuse(name: str) -> NoReturn:
    USED.append(name)
    raise AutogradRefused(f"{name} is torch's automatic differentiation: gradients must be derived by hand")


def _guard(name: str) -> Callable:
    def guard(*args, **kwargs):
        _refuse(name)
    guard.__name__ = name.rpartition(".")[2]
    return guard


def prepare() -> None:
    """Import torch for the workers: one thread, grad mode off, autograd's entries guarded. Idempotent."""
    global _prepared, _real_set_grad_enabled
    if _prepared:
        return
    import torch
    import torch.autograd.forward_ad
    import torch.autograd.functional
    import torch.autograd.variable
    import torch.func

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set, or parallel work already ran: one thread is what it has
    torch.set_grad_enabled(False)
    # Torch reads /proc/cpuinfo on its first operations: here, where it may, not in a worker
    # that may not (it would print an error into the submission's output).
    torch.backends.cpu.get_cpu_capability()
    (torch.ones(8, 8, dtype=torch.float64) @ torch.ones(8, 8, dtype=torch.float64)).clamp_min(0).sum()
    _real_set_grad_enabled = torch._C._set_grad_enabled

    # torch.autograd.Function stays: its backward is one the submission wrote by hand.
    for where, attribute in _GUARDED:
        owner = torch.Tensor if where == "Tensor" else importlib.import_module(where)
        if hasattr(owner, attribute):
            setattr(owner, attribute, _guard(f"{where}.{attribute}"))
    # The engine that runs every backward pass, reached directly.
    torch.autograd.variable.Variable._execution_engine = _RefusedEngine()

    real_set_grad_enabled = torch.set_grad_enabled

    class set_grad_enabled:  # noqa: N801 - torch's name, used as a function, a context and a decorator
        """torch.set_grad_enabled(False) as before; True is refused."""

        def __init__(self, mode: bool):
            if mode:
                _refuse("torch.set_grad_enabled(True)")
            self._inner = real_set_grad_enabled(False)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __call__(self, fn):
            return fn

    class enable_grad:  # noqa: N801 - torch's name
        """torch.enable_grad, as a context or a decorator: refused."""

        def __init__(self, *args, **kwargs):
            _refuse("torch.enable_grad")

    for owner in (torch, torch.autograd, torch.autograd.grad_mode):
        owner.set_grad_enabled = set_grad_enabled
        owner.enable_grad = enable_grad

    # tensor.requires_grad = True: the attribute's setter, on the Python class that every tensor is.
    getter = torch._C.TensorBase.requires_grad.__get__

    def set_requires_grad(self, value):
        if value:
            _refuse("Tensor.requires_grad = True")

    torch.Tensor.requires_grad = property(getter, set_requires_grad)
    _prepared = True


class _RefusedEngine:
    """Stands for torch's autograd engine: any use of it is refused."""

    def __getattr__(self, name: str):
        _refuse("the autograd engine")


def check_grad_mode() -> None:
    """Record grad mode found on after a submission's code ran (turned on by a route no guard
    knows), and turn it off again."""
    if _real_set_grad_enabled is not None and sys.modules["torch"].is_grad_enabled():
        USED.append("grad mode turned on")
        _real_set_grad_enabled(False)


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch where it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_numpy(value: Any) -> np.ndarray:
    """A result tensor as a NumPy array of its own dtype.

    Raises:
      AutogradRefused: the tensor requires grad or came from autograd's graph (``grad_fn``).
    """
    if value.requires_grad or value.grad_fn is not None:
        _refuse("a result tensor that requires grad")
    return value.detach().cpu().resolve_conj().resolve_neg().numpy()


def tensors(tree: Any) -> Any:
    """A case's arguments with every array a float64 (int64) tensor of its own memory."""
    import torch

    if isinstance(tree, np.ndarray):
        return torch.from_numpy(np.array(tree))
    if isinstance(tree, dict):
        return {k: tensors(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [tensors(v) for v in tree]
    return tree


@functools.lru_cache(maxsize=1)
def installed() -> bool:
    """Whether torch can be imported here (looked up, not imported)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None
