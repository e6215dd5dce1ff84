"""Fast LRP: relevance from one forward and one modified backward pass.

Every linear unit's output (BatchNorm merged, see :mod:`.units`) passes through
:func:`~.rules.epsilon_scale`; the explained logit is back-propagated once, only down to the
input layers; the input rule (Flat or Epsilon) is applied there. Nothing is re-run, so the cost
is close to a plain gradient. :mod:`.zennit_lrp` computes the same quantity with zennit and is the
reference in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models.attribution import attribution_mode
from .routing import relevance_to_points
from .rules import epsilon_scale, flat_rule
from .targets import default_target, eval_mode, forward_model, select_output
from .units import effective_bias, find_linear_units

INPUT_RULES = ("flat", "epsilon")
CONV_RULES = ("epsilon", "zplus", "alpha_beta")


@dataclass(frozen=True)
class LRPConfig:
    """Which LRP rules to use.

    Attributes
    ----------
    input_rule : {"flat", "epsilon"}
        Rule of the input layers (``model.lrp_input_layers``). ``"flat"`` is the default of the
        RelDrop paper's composites (relevance independent of the raw coordinates' sign).
    epsilon : float
        Stabiliser of the Epsilon rule on every other linear unit.
    zero_bias : bool
        Leave biases out of the rule's denominators (zennit's ``zero_params="bias"``): relevance
        is then conserved, so per-point relevance sums to the explained logit.
    conv_rule : {"epsilon", "zplus", "alpha_beta"}
        Rule of the convolutions (the shared per-point MLPs); dense layers keep Epsilon.
        ``zplus`` and ``alpha_beta`` (alpha=2, beta=1) give zennit's EpsilonPlusFlat and
        EpsilonAlpha2Beta1Flat composites; they are computed with zennit only.
    """

    input_rule: str = "flat"
    epsilon: float = 1e-6
    zero_bias: bool = False
    conv_rule: str = "epsilon"

    def __post_init__(self):
        if self.input_rule not in INPUT_RULES:
            raise ValueError(f"input_rule must be one of {INPUT_RULES}, got {self.input_rule!r}")
        if self.conv_rule not in CONV_RULES:
            raise ValueError(f"conv_rule must be one of {CONV_RULES}, got {self.conv_rule!r}")
        if not self.epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")


DEFAULT_CONFIG = LRPConfig()


def input_layer_names(model: nn.Module) -> tuple[str, ...]:
    """The model's ``lrp_input_layers``, checked against its modules."""
    names = tuple(getattr(model, "lrp_input_layers", ()))
    if not names:
        raise TypeError(
            f"{type(model).__name__} declares no lrp_input_layers; LRP needs the names of the "
            "layers that receive the input points"
        )
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(f"lrp_input_layers {missing} are not modules of {type(model).__name__}")
    return names


def mixed_input_layers(model: nn.Module) -> dict[str, tuple[int, int]]:
    """``model.lrp_mixed_inputs``: layers whose input mixes hidden features with channels
    ``[first, last)`` taken from the input points (e.g. centroid coordinates in PointNet++'s deeper
    set abstractions). Those channels' (Epsilon-rule) relevance is routed to the points; the
    rest flows on through the network."""
    mixed = dict(getattr(model, "lrp_mixed_inputs", {}))
    modules = dict(model.named_modules())
    missing = [n for n in mixed if n not in modules]
    if missing:
        raise KeyError(f"lrp_mixed_inputs {missing} are not modules of {type(model).__name__}")
    return mixed


def keep_channels(relevance: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """Zero all channels (dim 1) of ``relevance`` outside ``[first, last)``."""
    keep = torch.zeros(relevance.shape[1], dtype=relevance.dtype, device=relevance.device)
    keep[first:last] = 1
    return relevance * keep.view(1, -1, *([1] * (relevance.dim() - 2)))


def fast_lrp(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    config: LRPConfig = DEFAULT_CONFIG,
    differentiable: bool = False,
    eval: bool = True,
) -> torch.Tensor:
    """Per-point LRP relevance of the target output.

    Parameters
    ----------
    model : nn.Module
        A registered model (declares ``lrp_input_layers``).
    points : Tensor (B, N, C)
    target : Tensor (B,) or (B, N), optional
        Explained class (or part per point); default: the prediction.
    category : Tensor (B,), optional
        Object category, for part segmenters.
    config : LRPConfig
    differentiable : bool
        Keep the graph so the relevance can be differentiated w.r.t. the parameters
        (heat-map losses). Default False: the result is detached.
    eval : bool
        Compute in eval mode (BatchNorm running statistics, no dropout); the model's training
        flags are restored afterwards.

    Returns
    -------
    Tensor (B, N): relevance per point. With zero biases it sums to the target logit.
    """
    if points.dim() not in (3, 4):
        raise ValueError(f"points must be (B, N, C) (or images (B, C, H, W)), got shape {tuple(points.shape)}")
    if config.conv_rule != "epsilon":
        raise ValueError(
            f"the fast path implements the Epsilon rule only; conv_rule={config.conv_rule!r} "
            "is available through zennit (methods lrp_epsilon_plus_flat, lrp_alpha_beta)"
        )
    names = input_layer_names(model)
    modules = dict(model.named_modules())
    units = {u.linear_name: u for u in find_linear_units(model)}
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}
    handles = []

    def scale(unit):
        lin = modules[unit.linear_name]
        bn = modules[unit.output_name] if unit.output_name != unit.linear_name else None

        def hook(_m, _args, out):
            bias = effective_bias(lin, bn) if config.zero_bias else None
            return epsilon_scale(out, config.epsilon, bias, differentiable)

        return hook

    def keep_input(name):
        def hook(_m, args):
            inputs[name] = args[0]

        return hook

    def keep_output(name):
        def hook(_m, _args, out):
            outputs[name] = out

        return hook

    deferred = dict(getattr(model, "lrp_deferred_units", {}))
    mixed = mixed_input_layers(model)
    try:
        for name, unit in units.items():
            out_module = modules[deferred.get(unit.output_name, unit.output_name)]
            if name in names or name in mixed:
                handles.append(modules[name].register_forward_pre_hook(keep_input(name)))
            if name in names and config.input_rule == "flat":
                handles.append(out_module.register_forward_hook(keep_output(name)))
                continue
            handles.append(out_module.register_forward_hook(scale(unit)))
        x = points.detach().requires_grad_(True)
        with eval_mode(model, eval), attribution_mode(), torch.enable_grad():
            logits = forward_model(model, x, category)
            if target is None:
                target = default_target(logits.detach())
            score = select_output(logits, target).sum()
            flat = config.input_rule == "flat"
            wrt = [outputs[n] if flat else inputs[n] for n in names] + [inputs[n] for n in mixed]
            grads = torch.autograd.grad(score, wrt, create_graph=differentiable, retain_graph=True)
            rel = {}
            for n, t, g in zip(names, wrt, grads):
                rel[n] = flat_rule(modules[n], inputs[n], t * g) if flat else t * g
            for n, g in zip(mixed, grads[len(names):]):
                rel[n] = keep_channels(inputs[n] * g, *mixed[n])
            used = {n: inputs[n] for n in rel}
            result = relevance_to_points(model, used, rel, x)
    finally:
        for h in handles:
            h.remove()
    return result if differentiable else result.detach()
