"""Reference LRP with zennit: the same rules as :mod:`.fast_lrp`, through zennit's hooks.

Slower (zennit re-runs every hooked layer in the backward pass) but independent code, so the
tests compare the fast path against it.
"""

from __future__ import annotations

import torch
from torch import nn
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import LayerMapComposite, MixedComposite, NameMapComposite
from zennit.core import Composite
from zennit.rules import AlphaBeta, Epsilon, Flat, Norm, Pass, ZPlus
from zennit.types import Activation, AvgPool, Convolution, Linear

from ..models.attribution import attribution_mode
from ..models.pooling import WeightedSum
from .fast_lrp import (
    DEFAULT_CONFIG,
    LRPConfig,
    input_layer_names,
    keep_channels,
    mixed_input_layers,
)
from .routing import relevance_to_points
from .targets import default_target, eval_mode, forward_model, select_logits


def build_composite(model: nn.Module, config: LRPConfig = DEFAULT_CONFIG) -> Composite:
    """zennit composite matching :class:`LRPConfig`: the input rule on ``model.lrp_input_layers``
    (named explicitly, as a tuple, so no substring matching), Epsilon on every other linear
    layer, Pass on activations, BatchNorm merged into the preceding linear layer."""
    names = input_layer_names(model)
    zero = "bias" if config.zero_bias else None
    eps = Epsilon(epsilon=config.epsilon, zero_params=zero)
    first = Flat() if config.input_rule == "flat" else eps
    conv = {
        "epsilon": eps,
        "zplus": ZPlus(zero_params=zero),
        "alpha_beta": AlphaBeta(alpha=2.0, beta=1.0, zero_params=zero),
    }[config.conv_rule]
    # average pooling and constant-weight sums (interpolation): relevance in proportion to each
    # input's contribution, which is what the fast path does
    layer_map = [
        (Activation, Pass()),
        (AvgPool, Norm()),
        (WeightedSum, Epsilon(epsilon=config.epsilon)),
        (Convolution, conv),
        (Linear, eps),
    ]
    return MixedComposite(
        [NameMapComposite([(tuple(names), first)]), LayerMapComposite(layer_map)],
        canonizers=[SequentialMergeBatchNorm()],
    )


def zennit_lrp(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    config: LRPConfig = DEFAULT_CONFIG,
) -> torch.Tensor:
    """Per-point LRP relevance (B, N) computed with zennit; arguments as :func:`.fast_lrp.fast_lrp`.

    The initial relevance is the target logit, so with zero biases the result sums to it.
    """
    names = input_layer_names(model)
    modules = dict(model.named_modules())
    inputs: dict[str, torch.Tensor] = {}
    rel: dict[str, torch.Tensor] = {}

    def capture(name):
        def pre_hook(_m, args):
            inputs[name] = args[0]
            if args[0].requires_grad:
                args[0].register_hook(lambda g: rel.__setitem__(name, g))

        return pre_hook

    mixed = mixed_input_layers(model)
    # registered before zennit's own hooks, so the tensor seen is the layer's true input
    handles = [modules[n].register_forward_pre_hook(capture(n)) for n in (*names, *mixed)]
    composite = build_composite(model, config)
    x = points.detach().requires_grad_(True)
    try:
        with eval_mode(model), attribution_mode(), composite.context(model), torch.enable_grad():
            logits = forward_model(model, x, category)
            if target is None:
                target = default_target(logits.detach())
            score = select_logits(logits, target)  # (B,) or per point (B, N)
            # initial relevance = each target logit itself (zennit propagates relevance as grad)
            torch.autograd.backward(score, score.detach(), retain_graph=True)
    finally:
        for h in handles:
            h.remove()
    missing = [n for n in (*names, *mixed) if n not in rel]
    if missing:
        raise RuntimeError(f"zennit produced no relevance for input layers {missing}")
    for n, (first, last) in mixed.items():
        rel[n] = keep_channels(rel[n], first, last)
    with torch.enable_grad():
        return relevance_to_points(model, inputs, rel, x).detach()
