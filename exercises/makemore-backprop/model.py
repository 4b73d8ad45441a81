"""makemore part 4 ("becoming a backprop ninja"): the forward pass of its MLP, as the notebook's cell
writes it, every intermediate tapped under the notebook's name.

An embedding C of a block of characters, a linear layer, a batch norm (Bessel's variance), tanh,
a linear layer, and the cross entropy written out step by step. Pure JAX, float64.
"""

import jax
import jax.numpy as jnp
import numpy as np

from bpgrade.mistakes import held_constant, with_derivative

#: The batch norm's epsilon, as the notebook's.
EPS = 1e-5


def shapes(dims):
    n, v, t, e, h = (dims[k] for k in ("N", "V", "T", "E", "H"))
    return {"Xb": (n, t), "Yb": (n,), "C": (v, e), "W1": (t * e, h), "b1": (h,), "W2": (h, v), "b2": (v,),
            "bngain": (1, h), "bnbias": (1, h)}


def draw(dims, rng, batch):
    """The parameters at the notebook's scales (its "non-standard" initialisation, chosen so that
    a wrong backward pass shows): tanh then stays out of saturation."""
    s = {k: (batch, *v) for k, v in shapes(dims).items()}
    fan_in = dims["T"] * dims["E"]
    return {"C": rng.standard_normal(s["C"]),
            "W1": rng.standard_normal(s["W1"]) * (5 / 3) / np.sqrt(fan_in),
            "b1": rng.standard_normal(s["b1"]) * 0.1,
            "W2": rng.standard_normal(s["W2"]) * 0.1,
            "b2": rng.standard_normal(s["b2"]) * 0.1,
            "bngain": rng.standard_normal(s["bngain"]) * 0.1 + 1.0,
            "bnbias": rng.standard_normal(s["bnbias"]) * 0.1}


def _variance(bndiff2):
    n = bndiff2.shape[0]
    return 1 / (n - 1) * bndiff2.sum(0, keepdims=True)


def loss(Xb, Yb, params, tap, *, variance=_variance, tanh=jnp.tanh, counted=lambda c: c, squared=lambda d: d):
    """The mean cross entropy of a batch (Xb: (N, T) int64 characters, Yb: (N,) int64 next characters).

    The keyword arguments are where the mistake models below change the backward pass."""
    n = Xb.shape[0]
    emb = tap("emb", params["C"][Xb])
    embcat = tap("embcat", emb.reshape(n, -1))
    hprebn = tap("hprebn", jnp.matmul(embcat, params["W1"], precision=jax.lax.Precision.HIGHEST) + params["b1"])
    bnmeani = tap("bnmeani", 1 / n * hprebn.sum(0, keepdims=True))
    bndiff = tap("bndiff", hprebn - bnmeani)
    bndiff2 = tap("bndiff2", squared(bndiff) ** 2)
    bnvar = tap("bnvar", variance(bndiff2))
    bnvar_inv = tap("bnvar_inv", (bnvar + EPS) ** -0.5)
    bnraw = tap("bnraw", bndiff * bnvar_inv)
    hpreact = tap("hpreact", params["bngain"] * bnraw + params["bnbias"])
    h = tap("h", tanh(hpreact))
    logits = tap("logits", jnp.matmul(h, params["W2"], precision=jax.lax.Precision.HIGHEST) + params["b2"])
    logit_maxes = tap("logit_maxes", logits.max(1, keepdims=True))
    norm_logits = tap("norm_logits", logits - logit_maxes)
    counts = tap("counts", jnp.exp(norm_logits))
    counts_sum = tap("counts_sum", counted(counts).sum(1, keepdims=True))
    counts_sum_inv = tap("counts_sum_inv", counts_sum ** -1)
    probs = tap("probs", counts * counts_sum_inv)
    logprobs = tap("logprobs", jnp.log(probs))
    return -logprobs[jnp.arange(n), Yb].mean()


# Mistake models (exercise.yaml, mistakes).

def loss_variance_biased(Xb, Yb, params, tap):
    """dbndiff2 with 1/n where the forward pass has Bessel's 1/(n-1)."""
    biased = with_derivative(_variance, lambda d2, g: jnp.ones_like(d2) * g / d2.shape[0])
    return loss(Xb, Yb, params, tap, variance=biased)


def loss_tanh_of_preactivation(Xb, Yb, params, tap):
    """dhpreact = (1 - hpreact**2) * dh: tanh's derivative taken at its input, not (1 - h**2)."""
    return loss(Xb, Yb, params, tap, tanh=with_derivative(jnp.tanh, lambda z, g: g * (1 - z ** 2)))


def loss_counts_sum_branch(Xb, Yb, params, tap):
    """dcounts = counts_sum_inv * dprobs alone: the path through counts_sum left out."""
    return loss(Xb, Yb, params, tap, counted=held_constant)


def loss_bndiff_branch(Xb, Yb, params, tap):
    """dbndiff = bnvar_inv * dbnraw alone: the path through bndiff2 (the variance) left out."""
    return loss(Xb, Yb, params, tap, squared=held_constant)
