"""Fast LRP: relevance from one forward and one modified backward pass.

Every linear unit's output (BatchNorm merged, see :mod:`.units`) passes through
:func:`~.rules.epsilon_scale` (or :func:`~.rules.epsilon_relu` on the ReLU after it); the initial
relevance (``start``, :mod:`.targets`) is back-propagated once, only down to the input layers; the
input rule (Flat or Epsilon) is applied there. Nothing is re-run, so the cost is close to a plain
gradient: eval-mode BatchNorms are merged into their linear layers for the pass, a max-pooled unit
is differentiated through its winners only (:func:`max_pooled_pointwise`), and point channels
that enter deeper layers are taken where they enter (``lrp_mixed_inputs``), so routing them to
the points does not traverse the network again. :mod:`.zennit_lrp` computes the same quantity
with zennit and is the reference in the tests.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.attribution import attribution_mode
from ..models.pooling import GlobalMaxPool
from .composites import DEFAULT_CONFIG, LRPConfig
from .routing import relevance_to_points, store_input, store_output
from .rules import epsilon_relu, epsilon_scale, flat_rule, is_pointwise
from .targets import (
    check_start,
    default_target,
    eval_mode,
    explained_gradient,
    forward_model,
    initial_relevance,
)
from .units import batchnorm_merged, effective_bias, find_linear_units, relu_after

__all__ = ["DEFAULT_CONFIG", "LRPConfig", "fast_lrp", "input_layer_names", "logit_gradient",
           "max_pooled_pointwise", "mixed_input_layers"]


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


def mixed_input_layers(model: nn.Module) -> dict[str, str]:
    """``model.lrp_mixed_inputs``: layers whose input mixes hidden features with channels taken
    from the input points (e.g. centroid coordinates in PointNet++'s deeper set abstractions),
    each mapped to the :class:`~reldrop3d.models.layers.PointTap` those channels pass through.
    Their (Epsilon-rule) relevance, taken at the tap, is routed to the points; the rest flows on
    through the network."""
    mixed = dict(getattr(model, "lrp_mixed_inputs", {}))
    modules = dict(model.named_modules())
    missing = [n for pair in mixed.items() for n in pair if n not in modules]
    if missing:
        raise KeyError(f"lrp_mixed_inputs {missing} are not modules of {type(model).__name__}")
    return mixed


def logit_gradient(logits: torch.Tensor, target: torch.Tensor, start: str) -> torch.Tensor:
    """The gradient to feed at the logits so that the fast path starts from
    :func:`.targets.initial_relevance`.

    The fast path holds every activation's relevance as ``R = a * g``, so the logits need
    ``g = R_0 / z``: ``e_t`` for ``start="logit"`` (no division), ``R_0 / z`` otherwise. A logit of
    exactly 0 passes no relevance (its unit's Epsilon factor ``z / stab(z)`` is 0 there), where
    zennit would pass ``R_0 / epsilon``.
    """
    if start == "logit":
        return explained_gradient(logits, target, start)  # e_t = (z_t e_t) / z
    r0 = initial_relevance(logits, target, start)
    z = logits.detach()
    nonzero = z != 0
    return torch.where(nonzero, r0 / torch.where(nonzero, z, 1), 0)


def max_pooled_pointwise(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    pooled: torch.Tensor,
    winners: torch.Tensor,
) -> torch.Tensor:
    """``pooled`` = max over points of a pointwise linear unit, with a backward through the
    winners only.

    Parameters
    ----------
    x : Tensor (B, C_in, N)
        The unit's input.
    weight : Tensor (C_out, C_in) or (C_out, C_in, 1)
    bias : Tensor (C_out,), optional
        The unit's (BatchNorm-merged) weight and bias.
    pooled : Tensor (B, C_out)
        ``max_n (W x + b)``, as the model computed it.
    winners : LongTensor (B, C_out)
        The point of each maximum.

    Returns
    -------
    Tensor (B, C_out): the value of ``pooled``, differentiable in ``x`` (and the parameters) as
    ``W[c] . x[:, :, winners[:, c]] + b[c]``: the gradient of the max, which reaches only the
    winners, costs ``O(B C_out C_in)`` instead of the dense backward through the unit,
    ``O(B C_out C_in N)`` (PointNet's last encoder layer: N = 1,024 times less).
    """
    w = weight.reshape(weight.shape[0], -1)  # (C_out, C_in)
    at_winners = x.gather(2, winners.unsqueeze(1).expand(-1, x.shape[1], -1))  # (B, C_in, C_out)
    z = (at_winners * w.t()).sum(1)
    if bias is not None:
        z = z + bias
    return pooled.detach() + (z - z.detach())


def fast_lrp(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    config: LRPConfig = DEFAULT_CONFIG,
    differentiable: bool = False,
    eval: bool = True,
    start: str = "logit",
) -> torch.Tensor:
    """Per-point (per-pixel) LRP relevance of the target output.

    Parameters
    ----------
    model : nn.Module
        A registered model (declares ``lrp_input_layers``).
    points : Tensor (B, N, C) or images (B, C, H, W)
    target : Tensor (B,) or (B, N), optional
        Explained class (or part per point); default: the prediction.
    category : Tensor (B,), optional
        Object category, for part segmenters.
    config : LRPConfig
        The rules (:mod:`.composites`); only Epsilon convolutions (``config.fast``).
    differentiable : bool
        Keep the graph so the relevance can be differentiated w.r.t. the parameters
        (heat-map losses). Default False: the result is detached.
    eval : bool
        Compute in eval mode (BatchNorm running statistics, no dropout); the model's training
        flags are restored afterwards.
    start : {"logit", "onehot", "log_softmax"}
        The initial relevance at the logits (:mod:`.targets`).

    Returns
    -------
    Tensor (B, N) (or (B, H, W)): relevance per point. With zero biases it sums to the initial
    relevance (``z_t``, 1, or ``sum(e_t - p) = 0``).
    """
    if points.dim() not in (3, 4):
        raise ValueError(f"points must be (B, N, C) (or images (B, C, H, W)), got shape {tuple(points.shape)}")
    check_start(start)
    if not config.fast:
        raise ValueError(
            f"the fast path implements the Epsilon rule only; conv_rule={config.conv_rule!r} "
            "is available through zennit (method lrp_zennit)"
        )
    names = input_layer_names(model)
    rules = config.input_rules(names)
    modules = dict(model.named_modules())
    units = {u.linear_name: u for u in find_linear_units(model)}
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}
    handles = []

    def scale(unit, after_relu=False):
        lin = modules[unit.linear_name]
        bn = modules[unit.output_name] if unit.output_name != unit.linear_name else None
        # before the forward: inside it a merged BatchNorm's linear layer has merged parameters
        bias = effective_bias(lin, bn) if config.zero_bias else None

        def hook(_m, args, out):
            if after_relu:  # on the ReLU after the unit: its backward and the rule in one step
                return epsilon_relu(args[0], out, config.epsilon, bias)
            return epsilon_scale(out, config.epsilon, bias, differentiable)

        return hook

    merged: dict[str, torch.Tensor] = {}

    def winners_only(unit):
        """Backward of a max-pooled pointwise unit through the winners (:func:`max_pooled_pointwise`)."""
        lin = modules[unit.linear_name]

        def hook(m, args, out):
            z, x = args[0], inputs[unit.linear_name]
            merged_bn = unit.output_name == unit.linear_name or f"{unit.linear_name}.weight" in merged
            if not merged_bn or x.dim() != 3 or z.dim() != 3 or m.dim not in (-1, 2):
                return None  # a BatchNorm on batch statistics in between: the dense backward
            winners = z.detach().max(dim=m.dim).indices
            return max_pooled_pointwise(x, lin.weight, lin.bias, out, winners)

        return hook

    deferred = dict(getattr(model, "lrp_deferred_units", {}))
    taps = list(mixed_input_layers(model).values())
    flat = [n for n in names if rules[n] == "flat"]
    try:
        for tap in taps:
            handles.append(modules[tap].register_forward_hook(store_output(outputs, tap)))
        for name, unit in units.items():
            out_module = modules[deferred.get(unit.output_name, unit.output_name)]
            sparse = (unit.output_name in deferred and isinstance(out_module, GlobalMaxPool)
                      and type(modules[name]) is nn.Conv1d and is_pointwise(modules[name]))
            if name in names or sparse:
                handles.append(modules[name].register_forward_pre_hook(store_input(inputs, name)))
            if sparse:  # before the rule's hook on the same module
                handles.append(out_module.register_forward_hook(winners_only(unit)))
            if name in flat:
                handles.append(out_module.register_forward_hook(store_output(outputs, name)))
                continue
            relu = None if differentiable or unit.output_name in deferred else relu_after(model, unit)
            if relu is not None:
                handles.append(modules[relu].register_forward_hook(scale(unit, after_relu=True)))
                continue
            handles.append(out_module.register_forward_hook(scale(unit)))
        x = points.detach().requires_grad_(True)
        with eval_mode(model, eval), attribution_mode(), torch.enable_grad(), \
                batchnorm_merged(model, list(units.values()), differentiable) as merging:
            merged.update(merging)
            logits = forward_model(model, x, category, merged)
            if target is None:
                target = default_target(logits.detach())
            wrt = [outputs[n] if n in flat else inputs[n] for n in names] + [outputs[n] for n in taps]
            grads = torch.autograd.grad(
                logits, wrt, logit_gradient(logits, target, start),
                create_graph=differentiable, retain_graph=True,
            )
            rel = {}
            for n, t, g in zip(names, wrt, grads):
                rel[n] = flat_rule(modules[n], inputs[n], t * g) if n in flat else t * g
            for n, g in zip(taps, grads[len(names):]):
                rel[n] = outputs[n] * g
            used = {**{n: inputs[n] for n in names}, **{n: outputs[n] for n in taps}}
            result = relevance_to_points(model, used, rel, x)
    finally:
        for h in handles:
            h.remove()
    return result if differentiable else result.detach()
