"""Reference LRP with zennit: the same rules as :mod:`.fast_lrp`, through zennit's hooks.

Slower (zennit re-runs every hooked layer in the backward pass) but independent code, so the
tests compare the fast path against it.
"""

from __future__ import annotations

import torch
from torch import nn
from zennit.canonizers import NamedMergeBatchNorm, SequentialMergeBatchNorm
from zennit.composites import LayerMapComposite, MixedComposite, NameMapComposite
from zennit.core import Composite
from zennit.rules import AlphaBeta, Epsilon, Flat, Norm, Pass, ZPlus
from zennit.types import Activation, AvgPool, BatchNorm, Convolution, Linear

from ..models.attribution import attribution_mode
from ..models.pooling import WeightedSum
from .composites import DEFAULT_CONFIG, LRPConfig
from .fast_lrp import input_layer_names, mixed_input_layers
from .routing import relevance_to_points, store_input, store_output
from .targets import check_start, default_target, eval_mode, forward_model, initial_relevance


def canonizers(model: nn.Module) -> list:
    """zennit canonizers for ``model``: ``model.lrp_canonizer = "resnet"`` -> zennit's
    ``ResNetCanonizer`` (merges BatchNorm, splits residual additions); otherwise BatchNorm merged
    into the linear layer before it (``SequentialMergeBatchNorm``, plus ``NamedMergeBatchNorm``
    for pairs declared in ``model.lrp_batchnorm_pairs``)."""
    kind = getattr(model, "lrp_canonizer", None)
    if kind == "resnet":
        from zennit.torchvision import ResNetCanonizer

        return [ResNetCanonizer()]
    if kind is not None:
        raise ValueError(f"{type(model).__name__}.lrp_canonizer = {kind!r}: only 'resnet' is known")
    pairs = [([lin], bn) for lin, bn in getattr(model, "lrp_batchnorm_pairs", ())]
    return [SequentialMergeBatchNorm(), *([NamedMergeBatchNorm(pairs)] if pairs else [])]


def build_composite(model: nn.Module, config: LRPConfig = DEFAULT_CONFIG) -> Composite:
    """zennit composite matching :class:`LRPConfig`: each of ``model.lrp_input_layers`` gets its
    rule (``config.input_rules``; named explicitly, as tuples, so no substring matching), every
    other convolution ``config.conv_rule``, every other linear layer Epsilon; Pass on activations
    and (merged) BatchNorm, as the official RelDrop composites; BatchNorm merged (:func:`canonizers`)."""
    rules = config.input_rules(input_layer_names(model))
    zero = "bias" if config.zero_bias else None
    eps = Epsilon(epsilon=config.epsilon, zero_params=zero)
    by_rule = {"flat": Flat(), "epsilon": eps}
    conv = {
        "epsilon": eps,
        "zplus": ZPlus(zero_params=zero),
        "alpha_beta": AlphaBeta(alpha=2.0, beta=1.0, zero_params=zero),
    }[config.conv_rule]
    # average pooling and constant-weight sums (interpolation): relevance in proportion to each
    # input's contribution, which is what the fast path does
    layer_map = [
        (Activation, Pass()),
        (BatchNorm, Pass()),
        (AvgPool, Norm()),
        (WeightedSum, Epsilon(epsilon=config.epsilon)),
        (Convolution, conv),
        (Linear, eps),
    ]
    name_map = [
        (tuple(n for n, r in rules.items() if r == rule), hook)
        for rule, hook in by_rule.items() if rule in rules.values()
    ]
    return MixedComposite(
        [NameMapComposite(name_map), LayerMapComposite(layer_map)], canonizers=canonizers(model)
    )


def zennit_lrp(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    config: LRPConfig = DEFAULT_CONFIG,
    start: str = "logit",
) -> torch.Tensor:
    """Per-point (B, N) or per-pixel (B, H, W) LRP relevance computed with zennit; arguments as
    :func:`.fast_lrp.fast_lrp`.

    zennit takes the initial relevance as the ``grad_output`` at the logits
    (:func:`.targets.initial_relevance`), so with zero biases the result sums to it.
    """
    check_start(start)
    names = input_layer_names(model)
    modules = dict(model.named_modules())
    inputs: dict[str, torch.Tensor] = {}

    taps = list(mixed_input_layers(model).values())
    # registered before zennit's own hooks, so the tensor seen is the layer's true input
    handles = [modules[n].register_forward_pre_hook(store_input(inputs, n)) for n in names]
    # the point channels of layers with mixed inputs, where they enter (no rule of zennit's there)
    handles += [modules[n].register_forward_hook(store_output(inputs, n)) for n in taps]
    composite = build_composite(model, config)
    x = points.detach().requires_grad_(True)
    try:
        with eval_mode(model), attribution_mode(), composite.context(model), torch.enable_grad():
            logits = forward_model(model, x, category)
            if target is None:
                target = default_target(logits.detach())
            layers = [*names, *taps]
            missing = [n for n in layers if n not in inputs or not inputs[n].requires_grad]
            if missing:
                raise RuntimeError(f"no relevance can reach the input layers {missing}")
            # zennit propagates relevance as the gradient: grad_output = initial relevance;
            # autograd.grad (not backward): no parameter's .grad is touched
            grads = torch.autograd.grad(
                logits, [inputs[n] for n in layers], initial_relevance(logits, target, start),
                retain_graph=True,
            )
    finally:
        for h in handles:
            h.remove()
    rel = dict(zip(layers, grads))
    with torch.enable_grad():
        return relevance_to_points(model, inputs, rel, x).detach()
