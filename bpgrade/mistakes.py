"""Mistake models: the network as a student who makes one known mistake differentiates it.

A mistake model is a pack's loss with one thing done wrong in its derivative
(the ReLU's mask left out, the error passed back without the next layer's
weights, the loss summed instead of averaged). Its ``jax.grad`` is the wrong
gradient such a student returns, so that a failing submission that matches it
is told which mistake it made (:mod:`bpgrade.diagnosis`).

A declarative network gets its mistake models from :func:`network_mistakes`.
A pack with a ``model.py`` declares its own under ``mistakes:`` in
``exercise.yaml``, each a function of ``model.py`` with the signature of
``loss``; :func:`with_derivative` and :func:`held_constant` build the usual ones.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import jax
import jax.numpy as jnp

from . import networks
from .models import Model, from_network
from .networks import Network
from .packs import Mistake

def with_derivative(f: Callable, derivative: Callable) -> Callable:
    """``f`` with a wrong derivative: ``derivative(u, g)`` is the gradient
    passed back to ``u`` when the gradient of ``f(u)`` is ``g`` (the right
    one is ``g * f'(u)``). The value of ``f`` is unchanged.

    Example: a ReLU whose mask was left out,
    ``with_derivative(relu, lambda u, g: g)``.
    """
    @jax.custom_vjp
    def wrong(u):
        return f(u)

    def forward(u):
        return f(u), u

    def backward(u, g):
        return (derivative(u, g),)

    wrong.defvjp(forward, backward)
    return wrong


def held_constant(value):
    """``value`` treated as a constant by the derivative (``jax.lax.stop_gradient``):
    the mistake of leaving out every path through it."""
    return jax.lax.stop_gradient(value)


def network_mistakes(network: Network, inputs: Mapping[str, tuple], params: Mapping[str, tuple]) -> tuple[Mistake, ...]:
    """The mistake models of a declarative network: for each activation, its
    derivative left out or wrong; for each linear layer after the first whose
    output is one unit wide, the error passed back without its weights (NumPy
    broadcasts the mistake silently); for the loss, its mean or its factor 2
    left out."""
    found = []

    def add(name: str, code: str, text: str, **parts) -> None:
        found.append(Mistake(name, code, text, from_network(network, inputs, params, **parts)))

    n_act = n_lin = 0
    after = None
    for layer in network.layers:
        if layer.kind == "linear":
            if n_lin and params[layer.weight][1] == 1:
                add(f"error_passed_back_without_{layer.weight}", "chain_rule",
                    f"This is the gradient with the error passed back through the layer of {layer.weight} without "
                    f"multiplying it by {layer.weight}ᵀ (the error before that layer is "
                    f"(δ @ {layer.weight}.T) times "
                    f"the activation's derivative; NumPy broadcast the missing product silently).",
                    linears={n_lin: _passed_back_without_weights})
            after = layer.weight
            n_lin += 1
            continue
        shown = {"relu": "ReLU"}.get(layer.kind, layer.kind)
        where = f"the {shown} after {after}" if after else f"the first {shown}"
        if layer.kind == "relu":
            add(f"relu{n_act}_mask_left_out", "relu_mask",
                f"This is the gradient with the derivative of {where} left out: multiply the error coming back into "
                f"it by the mask (u > 0) of its input u.",
                activations={n_act: with_derivative(networks.relu, lambda u, g: g)})
            if inputs[network.label][-1] == 1:
                found.append(Mistake(
                    f"relu{n_act}_mask_of_the_output", "relu_mask",
                    f"This is the gradient with the mask of {where} taken from the network's output (l > 0) "
                    "instead of from the ReLU's own input u (u > 0); NumPy broadcast the wrong mask silently.",
                    _mask_of_the_output(network, inputs, params, n_act)))
            add(f"relu{n_act}_applied_to_the_error", "relu_mask",
                f"This is the gradient with {where} applied to the error coming back instead of multiplying the "
                f"error by the ReLU's derivative: the mask comes from the ReLU's input u (u > 0), not from the error.",
                activations={n_act: with_derivative(networks.relu, lambda u, g: networks.relu(g))})
        elif layer.kind == "sigmoid":
            add(f"sigmoid{n_act}_derivative_left_out", "activation_derivative",
                f"This is the gradient with the derivative of {where} left out: multiply the error coming back into "
                f"it by σ'(u) = σ(u)(1 − σ(u)).",
                activations={n_act: with_derivative(networks.sigmoid, lambda u, g: g)})
            add(f"sigmoid{n_act}_value_as_derivative", "activation_derivative",
                f"This is the gradient with σ(u) taken as the derivative of {where}; "
                "it is σ'(u) = σ(u)(1 − σ(u)).",
                activations={n_act: with_derivative(networks.sigmoid, lambda u, g: g * networks.sigmoid(u))})
        n_act += 1
    if network.loss == "mse":
        add("loss_summed", "scale", "This is the gradient of the squared error summed instead of averaged: the "
            "mean's 1/N (one over the number of samples) is missing.",
            loss=lambda pred, y: jnp.sum((pred - y) ** 2))
        add("mse_factor_2_left_out", "scale", "This is the gradient without the 2 of d/dp (p − y)² = 2 (p − y).",
            loss=lambda pred, y: 0.5 * networks.mse(pred, y))
    elif network.loss == "quadratic":
        add("loss_summed", "scale", "This is the gradient of the cost summed over the samples instead of "
            "averaged: the 1/N is missing.", loss=lambda pred, y: 0.5 * jnp.sum((pred - y) ** 2))
    return tuple(found)


def _passed_back_without_weights(params: Mapping[str, jax.Array], h: jax.Array) -> jax.Array:
    """A linear layer whose gradient with respect to its input is the output's
    gradient broadcast, as if multiplied by ones instead of ``w.T``."""
    @jax.custom_vjp
    def layer(w, b, h):
        return networks.linear({"w": w, "b": b}, h)

    def forward(w, b, h):
        return layer(w, b, h), (w, b, h)

    def backward(saved, g):
        w, b, h = saved
        _, vjp = jax.vjp(lambda w, b: networks.linear({"w": w, "b": b}, h), w, b)
        return (*vjp(g), jnp.broadcast_to(g, h.shape))

    layer.defvjp(forward, backward)
    return layer(params["w"], params["b"], h)


def _mask_of_the_output(network: Network, inputs: Mapping[str, tuple], params: Mapping[str, tuple],
                        index: int) -> Model:
    """The network with the derivative of ReLU ``index`` taken as the mask of
    the network's (one unit wide) output."""
    @jax.custom_vjp
    def masked(u, mask):
        return networks.relu(u)

    def forward(u, mask):
        return networks.relu(u), mask

    def backward(mask, g):
        return g * mask, jnp.zeros_like(mask)

    masked.defvjp(forward, backward)

    def loss(*args):
        *values, params_, tap = args
        output, _ = networks.forward(network, {**dict(zip(inputs, values)), **params_})
        mask = held_constant((output > 0).astype(output.dtype))
        return from_network(network, inputs, params, activations={index: lambda u: masked(u, mask)}).loss(*args)

    return dataclasses.replace(from_network(network, inputs, params), loss=loss)
