"""Find the linear units of a network: each linear/conv layer plus a BatchNorm right after it.

A *unit* is what LRP treats as one linear map. A BatchNorm that directly follows a linear layer
inside the same ``nn.Sequential`` is merged into it (as zennit's ``SequentialMergeBatchNorm`` does),
so the unit's output is the BatchNorm's output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class LinearUnit:
    """A linear layer and the module whose output is the unit's pre-activation.

    Attributes
    ----------
    linear_name : str
        Qualified name of the linear/conv module (as in ``named_modules``).
    output_name : str
        ``linear_name``, or the name of the BatchNorm merged into it.
    """

    linear_name: str
    output_name: str


def _batchnorm_scale(batchnorm: nn.Module) -> torch.Tensor:
    """``gamma / sqrt(running_var + eps)`` (C,), ``gamma`` = 1 without affine parameters."""
    scale = (batchnorm.running_var + batchnorm.eps).rsqrt()
    return scale if batchnorm.weight is None else batchnorm.weight * scale


def merged_bias(linear: nn.Module, batchnorm: nn.Module) -> torch.Tensor:
    """Bias (C,) of ``batchnorm(linear(x))`` as one affine map (eval-mode statistics):
    ``(b - running_mean) * scale + beta``; differentiable in the parameters."""
    b = linear.bias if linear.bias is not None else 0.0
    out = (b - batchnorm.running_mean) * _batchnorm_scale(batchnorm)
    return out if batchnorm.bias is None else out + batchnorm.bias


def merged_weight(linear: nn.Module, batchnorm: nn.Module) -> torch.Tensor:
    """Weight of ``batchnorm(linear(x))`` as one linear map: each output channel's row of
    ``linear.weight`` (C_out, C_in, *kernel) times its BatchNorm scale; differentiable in the
    parameters."""
    scale = _batchnorm_scale(batchnorm)
    return linear.weight * scale.view(-1, *([1] * (linear.weight.dim() - 1)))


def effective_bias(linear: nn.Module, batchnorm: nn.Module | None = None):
    """Bias (C,) of a linear unit with its BatchNorm merged (eval-mode statistics), or None
    when the unit has neither a bias nor a BatchNorm (detached)."""
    if batchnorm is None:
        return None if linear.bias is None else linear.bias.detach()
    return merged_bias(linear, batchnorm).detach()


def can_merge(batchnorm: nn.Module) -> bool:
    """Whether ``batchnorm`` is an affine map right now: eval mode with running statistics."""
    return not batchnorm.training and batchnorm.running_mean is not None


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@contextlib.contextmanager
def batchnorm_merged(
    model: nn.Module, units: list[LinearUnit], differentiable: bool = False
) -> Iterator[dict[str, torch.Tensor]]:
    """Run each eval-mode BatchNorm of ``units`` inside its linear layer.

    Within the context every such BatchNorm is the identity (its ``forward`` is replaced; its
    hooks still run), and the yielded dict holds the merged weight and bias of its linear layer
    (:func:`merged_weight`, :func:`merged_bias`) under the parameters' qualified names, to be
    passed to :func:`torch.func.functional_call`. The unit outputs keep their values (up to
    rounding) while the BatchNorm's own pass over every activation, forward and backward,
    disappears: it is what zennit's ``SequentialMergeBatchNorm`` computes. The BatchNorm must be
    applied to its linear layer's output directly (as :func:`find_linear_units` assumes).

    Parameters
    ----------
    model : nn.Module
    units : list of LinearUnit
        The units found by :func:`find_linear_units`; those without a BatchNorm, or with one in
        training mode (batch statistics), are left alone.
    differentiable : bool
        Keep the merged parameters differentiable in the original ones (heat-map losses);
        otherwise they are computed without autograd.
    """
    modules = dict(model.named_modules())
    merged: dict[str, torch.Tensor] = {}
    skipped = []
    with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
        for unit in units:
            if unit.output_name == unit.linear_name:
                continue
            lin, bn = modules[unit.linear_name], modules[unit.output_name]
            if not can_merge(bn) or "forward" in vars(bn):
                continue
            merged[f"{unit.linear_name}.weight"] = merged_weight(lin, bn)
            merged[f"{unit.linear_name}.bias"] = merged_bias(lin, bn)
            skipped.append(bn)
    # (a linear layer without a bias gets the merged one: functional_call fills the None slot)
    try:
        for bn in skipped:
            bn.forward = _identity
        yield merged
    finally:
        for bn in skipped:
            vars(bn).pop("forward", None)


def find_linear_units(model: nn.Module) -> list[LinearUnit]:
    """All linear units of ``model`` in module-registration order.

    Models whose conv and BatchNorm live in separate containers can declare the pairs
    themselves with a ``lrp_batchnorm_pairs`` attribute: a tuple of ``(linear_name, bn_name)``.
    """
    modules = dict(model.named_modules())
    declared = dict(getattr(model, "lrp_batchnorm_pairs", ()))
    for lin, bn in declared.items():
        if lin not in modules or bn not in modules:
            raise KeyError(f"lrp_batchnorm_pairs names unknown module {lin!r} or {bn!r}")
    merged: dict[str, str] = dict(declared)
    for name, module in modules.items():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (cname, child), (nname, nxt) in zip(children, children[1:]):
            if isinstance(child, LINEAR_TYPES) and isinstance(nxt, BATCHNORM_TYPES):
                prefix = f"{name}." if name else ""
                merged[prefix + cname] = prefix + nname
    return [
        LinearUnit(name, merged.get(name, name))
        for name, module in modules.items()
        if isinstance(module, LINEAR_TYPES)
    ]


def relu_after(model: nn.Module, unit: LinearUnit) -> str | None:
    """Name of the ``nn.ReLU`` (not in-place) that directly follows the unit's output module in
    the same ``nn.Sequential`` (so it is the output's only consumer), or None."""
    parent, _, child = unit.output_name.rpartition(".")
    container = model.get_submodule(parent) if parent else model
    if not isinstance(container, nn.Sequential):
        return None
    names = list(container._modules)
    i = names.index(child)
    if i + 1 == len(names):
        return None
    nxt = container._modules[names[i + 1]]
    if type(nxt) is not nn.ReLU or nxt.inplace:
        return None
    return f"{parent}.{names[i + 1]}" if parent else names[i + 1]
