"""Ground truth: ``jax.grad`` of a pack's loss, at full precision, on any backend.

The truth is computed in float64 with the highest matmul precision, so that a
GPU's TF32 matmuls or a TPU's bfloat16 passes (both about 1e-3 off) never reach
it: the same cases give the same truth on CPU, GPU and TPU, to rounding.

Cases of one shape are stacked and graded by one ``jit(vmap(grad(loss)))``
call; the compiled function is reused across shapes of the same pack.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import jax
import numpy as np

from . import networks
from .errors import DeviceError
from .networks import Network

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


def share_accelerator() -> None:
    """Take accelerator memory as the truth needs it, not JAX's 75% up front.

    The truth of a pack needs megabytes; a grader shares its GPU with the
    course's other jobs, or with a second bpgrade, which JAX's preallocation
    would leave out of memory. Must run before JAX first touches a device; an
    ``XLA_PYTHON_CLIENT_PREALLOCATE`` already set is kept. This sets the
    process's environment, so only the command line calls it.
    """
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def enable_compilation_cache() -> Path | None:
    """Keep the compiled truth programs on disk between runs.

    A check of mlp2 compiles one program per shape (about 0.2 s each); with the
    cache a second check skips that (about 2.2 s down to 0.7 s). The folder is
    ``$BPGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpgrade/xla``, else
    ``~/.cache/bpgrade/xla``; ``BPGRADE_CACHE_DIR=""`` turns the cache off.
    This sets JAX's global configuration, so only the command line calls it.

    Returns:
      The folder used, or None when the cache is off or cannot be created.
    """
    configured = os.environ.get("BPGRADE_CACHE_DIR")
    if configured == "":
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
    """Gradients and activation inputs of a batch of ``B`` cases of one shape.

    ``grads`` maps each name differentiated against to ``(B, *its shape)``;
    ``activation_inputs`` holds, per activation layer in order, the tensor fed
    into it, ``(B, N, width)``. All are float64 NumPy arrays.
    """

    grads: dict[str, np.ndarray]
    activation_inputs: list[np.ndarray]


@functools.lru_cache(maxsize=None)
def _batched(network: Network, wrt: tuple[str, ...]):
    def one(tensors):
        def loss(t):
            output, acts = networks.forward(network, t)
            return networks.LOSSES[network.loss](output, t[network.label]), acts

        grads, acts = jax.grad(loss, has_aux=True)(tensors)
        return {name: grads[name] for name in wrt}, acts

    return jax.jit(jax.vmap(one))


def evaluate(network: Network, wrt: Sequence[str], stacked: Mapping[str, np.ndarray],
             device: jax.Device | None = None) -> Evaluation:
    """Gradients of the loss, and the activation inputs, for a batch of cases of one shape.

    Args:
      network: the pack's network.
      wrt: names of the tensors to differentiate with respect to.
      stacked: every tensor the loss reads, float64, each with a leading batch
        axis ``B``: ``{"x": (B, N, d), "w1": (B, d, h), ...}``.
      device: where to compute; JAX's default device when None.

    Raises:
      DeviceError: the device failed (out of memory, lost).
    """
    device = device or select_device()
    size = len(next(iter(stacked.values())))
    # Batches are padded (with copies of the first case) to a multiple of
    # BATCH so that the screening of candidate cases and the grading of the
    # chosen ones share one compiled program per shape (about 0.2 s each).
    padded = -size % BATCH
    with jax.enable_x64(True), jax.default_matmul_precision("highest"):
        try:
            on_device = {k: jax.device_put(np.concatenate([v, np.repeat(v[:1], padded, 0)]).astype(np.float64),
                                           device) for k, v in stacked.items()}
            grads, acts = _batched(network, tuple(wrt))(on_device)
            return Evaluation({k: np.asarray(v, np.float64)[:size] for k, v in grads.items()},
                              [np.asarray(a, np.float64)[:size] for a in acts])
        except jax.errors.JaxRuntimeError as e:
            # Out of device memory, a lost device: the user's machine, not a bug.
            reason = str(e).strip().splitlines()[0]
            raise DeviceError(f"computing the truth on {device.platform} failed: {reason}") from None


def gradients(network: Network, wrt: Sequence[str], cases: Sequence, device: jax.Device | None = None
              ) -> list[dict[str, np.ndarray]]:
    """The true gradients of every case, grouped by shape for one call per shape.

    Args:
      cases: :class:`~bpgrade.cases.Case` objects (anything with ``dims`` and
        ``tensors``).

    Returns:
      One ``{target name: gradient}`` dict per case, in the order of ``cases``;
      each gradient has the shape of its tensor and dtype float64.
    """
    groups: dict[tuple, list[int]] = {}
    for i, case in enumerate(cases):
        groups.setdefault(tuple(sorted(case.dims.items())), []).append(i)
    result: list[dict[str, np.ndarray]] = [{} for _ in cases]
    for indices in groups.values():
        names = cases[indices[0]].tensors.keys()
        stacked = {k: np.stack([cases[i].tensors[k] for i in indices]) for k in names}
        out = evaluate(network, wrt, stacked, device).grads
        for j, i in enumerate(indices):
            result[i] = {k: v[j] for k, v in out.items()}
    return result
