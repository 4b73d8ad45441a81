"""Ground truth: ``jax.grad`` of a pack's loss, at full precision, on any backend.

The truth is computed in float64 with the highest matmul precision, so that a
GPU's TF32 matmuls or a TPU's bfloat16 passes (both about 1e-3 off) never reach
it: the same cases give the same truth on CPU, GPU and TPU, to rounding.

Cases of one shape are stacked and graded by one ``jit(vmap(grad(loss)))``
call; the compiled function is reused across shapes of the same pack. The
gradient with respect to an intermediate (a delta, ``dC/dz``) is the gradient
with respect to a zero added where the model taps it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .cases import generate_cases, shape_key
from .errors import DeviceError
from .models import Model
from .packs import Facts, Pack
from .store import Truths

BACKENDS = ("cpu", "gpu", "tpu")
#: Batches of cases are padded to a multiple of this size (see batched_gradients).
BATCH = 64


def select_device(backend: str | None = None) -> jax.Device:
    """The first device of ``backend`` (``"cpu"``, ``"gpu"`` or ``"tpu"``), or
    of JAX's default backend when ``backend`` is None.

    Raises:
      DeviceError: the backend is unknown or has no device on this machine.
    """
    if backend is None:
        return jax.devices()[0]
    if backend not in BACKENDS:
        raise DeviceError(f"unknown device {backend!r}: expected one of {', '.join(BACKENDS)}")
    try:
        return jax.devices(backend)[0]
    except RuntimeError:
        available = sorted({d.platform for d in jax.devices()})
        raise DeviceError(f"no {backend} device on this machine (JAX sees: {', '.join(available)})") from None


def enable_compilation_cache(keep_users: bool = False) -> Path | None:
    """Keep the compiled truth programs on disk between runs.

    A check of mlp2 compiles one program per shape (about 0.2 s each); with the
    cache a second check skips that (about 2.2 s down to 0.7 s). The folder is
    ``$BPGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpgrade/xla``, else
    ``~/.cache/bpgrade/xla``; ``BPGRADE_CACHE_DIR=""`` turns the cache off.
    This sets JAX's global configuration: ``keep_users`` (the API, in a
    student's own process) leaves a cache folder that JAX already has alone.

    Returns:
      The folder used, or None when the cache is off or cannot be created.
    """
    configured = os.environ.get("BPGRADE_CACHE_DIR")
    if configured == "" or keep_users and jax.config.jax_compilation_cache_dir:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    directory = Path(configured) if configured else Path(base) / "bpgrade" / "xla"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return directory


class Evaluation(NamedTuple):
    """Gradients and tapped intermediates of a batch of ``B`` cases of one shape.

    ``grads`` maps each target name to its gradient, a pytree of arrays each
    with a leading batch axis ``(B, ...)``; ``taps`` maps each tapped name to
    its value(s) ``(B, ...)`` (a list for a name tapped with an index). All
    arrays are float64 NumPy arrays.
    """

    grads: dict[str, Any]
    taps: dict[str, Any]


def _tapped(model: Model, tensors, eps):
    """The loss with a zero added at every tap, and the tapped values."""
    values: dict[str, Any] = {}

    def tap(name, value, index=None):
        if index is None:
            values[name] = value
            return value + eps[name] if eps is not None else value
        values.setdefault(name, {})[index] = value
        return value + eps[name][index] if eps is not None else value

    out = model.call(tensors, tap)
    # Indexed taps become lists in index order.
    return out, {k: [v[i] for i in sorted(v)] if isinstance(v, dict) else v for k, v in values.items()}


def loss_and_taps(model: Model, tensors: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The loss of one case and the intermediates that ``model`` taps (also for :func:`jax.eval_shape`)."""
    return _tapped(model, tensors, None)


def _one(model: Model, wanted: tuple[tuple[str, str], ...], tensors):
    """The gradients of one case (``{target: gradient}``) and its tapped values."""
    _, shapes = loss_and_taps(model, tensors)
    zeros = jax.tree.map(jnp.zeros_like, shapes)
    # Integer inputs (labels) are held fixed: only the float ones are differentiated.
    fixed = {name: tensors[name] for name in model.integers}
    floats = {name: value for name, value in tensors.items() if name not in fixed}

    def loss(t, eps):
        return _tapped(model, {**t, **fixed}, eps)

    (g_tensors, g_taps), taps = jax.grad(loss, argnums=(0, 1), has_aux=True)(floats, zeros)
    return {target: g_tensors[of] if of in g_tensors else g_taps[of] for target, of in wanted}, taps


@functools.lru_cache(maxsize=None)
def _batched(model: Model, wanted: tuple[tuple[str, str], ...]):
    return jax.jit(jax.vmap(functools.partial(_one, model, wanted)))


@functools.lru_cache(maxsize=None)
def _batched_variants(models: tuple[Model, ...], wanted: tuple[tuple[str, str], ...], fast_compile: bool):
    def every(tensors):
        return tuple(_one(model, wanted, tensors)[0] for model in models)

    # Diagnosis compiles this once per shape and runs it once: LLVM's cheap passes save a tenth of the
    # compile time. Not XLA's optimisation level 0, which miscompiles the gradient of a max (a -inf in
    # makemore-backprop's dlogits, seed 1, case 2).
    options = {"xla_llvm_disable_expensive_passes": True}
    return jax.jit(jax.vmap(every), compiler_options=options if fast_compile else None)


def variant_gradients(models: Sequence[Model], wanted: Mapping[str, str], cases: Sequence,
                      device: jax.Device | None = None) -> list[list[dict[str, Any]]]:
    """The gradients of several models of one pack (its mistake models) on
    cases, with one compiled program per shape for all of them.

    Returns:
      For each case, in order, one ``{target name: gradient}`` per model.
    """
    device = device or select_device()
    program = _batched_variants(tuple(models), tuple(wanted.items()), device.platform == "cpu")
    result: list[list[dict[str, Any]]] = [[] for _ in cases]
    for indices in _by_shape(cases).values():
        stacked = _stack(cases, indices)
        with (jax.enable_x64(True), jax.default_matmul_precision("highest"),
              _device_errors("the mistake models", device)):
            out = jax.tree.map(lambda v: np.asarray(v, np.float64), program(jax.device_put(stacked, device)))
        for j, i in enumerate(indices):
            result[i] = [jax.tree.map(lambda v: v[j], grads) for grads in out]
    return result


def _by_shape(cases: Sequence) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, case in enumerate(cases):
        groups.setdefault(shape_key(case), []).append(i)
    return groups


@contextlib.contextmanager
def _device_errors(what: str, device: jax.Device):
    """A failing device (out of memory, lost) is the user's machine, not a bug: a DeviceError."""
    try:
        yield
    except jax.errors.JaxRuntimeError as e:
        reason = str(e).strip().splitlines()[0]
        raise DeviceError(f"computing {what} on {device.platform} failed: {reason}") from None


def _stack(cases: Sequence, indices: Sequence[int]) -> dict[str, Any]:
    names = cases[indices[0]].tensors.keys()
    return {k: jax.tree.map(lambda *leaves: np.stack(leaves), *[cases[i].tensors[k] for i in indices]) for k in names}


def evaluate(model: Model, wanted: Mapping[str, str], stacked: Mapping[str, Any],
             device: jax.Device | None = None) -> Evaluation:
    """Gradients of the loss, and the tapped intermediates, for a batch of cases of one shape.

    Args:
      model: the pack's model.
      wanted: target name to what it differentiates with respect to: an
        input, a parameter or a tapped name (``{"delta2": "z2", "w1": "w1"}``).
      stacked: every argument of the loss, float64 (int64 for integer
        inputs), each leaf with a leading batch axis ``B``: ``{"x": (B, N, d), "w1": (B, d, h), ...}``.
      device: where to compute; JAX's default device when None.

    Raises:
      DeviceError: the device failed (out of memory, lost).
    """
    device = device or select_device()
    size = len(jax.tree.leaves(stacked)[0])
    # Batches are padded (with copies of the first case) to a multiple of
    # BATCH so that the screening of candidate cases and the grading of the
    # chosen ones share one compiled program per shape (about 0.2 s each).
    padded = -size % BATCH

    def put(v):
        dtype = np.int64 if v.dtype.kind in "iu" else np.float64
        return jax.device_put(np.concatenate([v, np.repeat(v[:1], padded, 0)]).astype(dtype), device)

    def get(v):
        return np.asarray(v, np.float64)[:size]

    with jax.enable_x64(True), jax.default_matmul_precision("highest"), _device_errors("the truth", device):
        grads, taps = _batched(model, tuple(wanted.items()))(jax.tree.map(put, dict(stacked)))
        return Evaluation(jax.tree.map(get, grads), jax.tree.map(get, taps))


def gradients(model: Model, wanted: Mapping[str, str], cases: Sequence, device: jax.Device | None = None
              ) -> list[dict[str, Any]]:
    """The true gradients of every case, grouped by shape for one call per shape.

    Args:
      wanted: target name to what it differentiates with respect to (see
        :func:`evaluate`).
      cases: :class:`~bpgrade.cases.Case` objects (anything with ``dims`` and
        ``tensors``).

    Returns:
      One ``{target name: gradient}`` dict per case, in the order of ``cases``;
      each gradient is a float64 array (or a pytree of them) of the shape of
      what it differentiates with respect to.
    """
    result: list[dict[str, np.ndarray]] = [{} for _ in cases]
    for indices in _by_shape(cases).values():
        out = evaluate(model, wanted, _stack(cases, indices), device).grads
        for j, i in enumerate(indices):
            result[i] = jax.tree.map(lambda v: v[j], out)
    return result


def case_set(pack: Pack, seed: int | None = None, device: str | None = None) -> Truths:
    """A pack's case set (see :func:`bpgrade.cases.generate_cases`) with the true gradient of
    every target in every case and the gradients of the pack's mistake models, as the truth
    store keeps them (:class:`bpgrade.store.Truths`).

    Raises:
      DeviceError: ``device`` is not there, or failed.
      PackError: the pack's cases cannot be drawn.
    """
    dev = select_device(device)
    cases = generate_cases(pack, seed)
    wanted = {t.name: t.of for t in pack.targets}
    grads = gradients(pack.model, wanted, cases, dev)
    # A gradient that may be zero is zero where it is only rounding (1e-17 for an exact 0).
    zero = {t.name for t in pack.targets if t.zero}
    snapped = {name: [jax.tree.map(lambda a: np.where(np.abs(a) <= pack.tolerance.atol, 0.0, a), g[name])
                      if name in zero else g[name] for g in grads] for name in wanted}
    mistakes = (variant_gradients([m.model for m in pack.mistakes], wanted, cases, dev) if pack.mistakes
                else [[] for _ in cases])
    return Truths(Facts.of(pack), dev.platform, cases, snapped, mistakes)
