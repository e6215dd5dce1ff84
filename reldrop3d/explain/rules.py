"""LRP rules as gradient modifiers for the fast, single-backward relevance path.

LRP-epsilon through a linear unit ``z = W x + b`` is ``R_x = x * W^T (R_z / stab(z))``. Writing the
relevance of every activation as ``R = a * g`` turns this into a *modified gradient*: the
gradient arriving at ``z`` is scaled by ``z / stab(z)`` and then back-propagated normally. ReLU
(zennit's Pass rule), max pooling and index gathers need no change: their plain gradient already
routes ``a * g`` correctly. So one backward pass with :class:`EpsilonScale` on every unit output
reproduces zennit's Epsilon rule without re-running any layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``z + epsilon * sign(z)``, sign(+0) = +1 as in zennit: safe denominators.

    (``copysign`` gives -0.0 a negative sign, where zennit uses +1; a unit output of exactly -0.0
    carries no relevance either way.) One new buffer; ``z`` is not modified."""
    return torch.copysign(torch.tensor(epsilon, dtype=z.dtype, device=z.device), z).add_(z)


class EpsilonScale(torch.autograd.Function):
    """Identity in the forward pass; scales the gradient by ``z / stab(z - bias)`` backwards
    (``bias`` = 0: plain LRP-epsilon; ``bias`` = the unit's bias: the bias-free variant)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, epsilon: float, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(z, bias)
        ctx.epsilon = epsilon
        return z.view_as(z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, bias = ctx.saved_tensors
        den = z if bias is None else z - _channel_view(bias, z)
        return grad.mul(z).div_(stabilize(den, ctx.epsilon)), None, None


class EpsilonReLU(torch.autograd.Function):
    """``relu(z)`` forwards; backwards, the ReLU's gradient and the Epsilon factor of the unit
    ``z`` in one step: ``grad * r / stab(r - bias)`` with ``r = relu(z)``.

    Where ``z > 0`` this is ``grad * z / stab(z - bias)`` (:class:`EpsilonScale` after the ReLU's
    backward, the same arithmetic); where ``z <= 0`` both give 0. Saving ``r`` alone, it replaces
    five passes over the activation (mask, ratio) by three."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, r: torch.Tensor, epsilon: float, bias: torch.Tensor | None):
        ctx.save_for_backward(r, bias)
        ctx.epsilon = epsilon
        return r.view_as(r)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        r, bias = ctx.saved_tensors
        if bias is None:  # r >= 0: stab(r) = r + eps, and where r = 0 the result is 0
            den = r + ctx.epsilon
        else:
            den = stabilize(r - _channel_view(bias, r), ctx.epsilon)
        return grad.mul(r).div_(den), None, None, None


def epsilon_relu(
    z: torch.Tensor, r: torch.Tensor, epsilon: float, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Mark ``r = relu(z)`` as the activation of an LRP-epsilon unit with output ``z``: the
    returned tensor equals ``r`` and back-propagates into ``z`` (not through the ReLU's own
    backward), as :func:`epsilon_scale` on ``z`` followed by the ReLU would (not differentiable
    a second time: use :func:`epsilon_scale` for heat-map losses)."""
    return EpsilonReLU.apply(z, r.detach(), epsilon, bias)


def _channel_view(bias: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Broadcast a per-channel bias (C,) against ``z`` (B, C, *S)."""
    return bias.view(1, -1, *([1] * (z.dim() - 2)))


def epsilon_ratio(z: torch.Tensor, epsilon: float, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``z / stab(z - bias)``: the factor LRP-epsilon applies to the gradient at a unit output."""
    den = z if bias is None else z - _channel_view(bias, z)
    return z / stabilize(den, epsilon)


def epsilon_scale(
    z: torch.Tensor,
    epsilon: float,
    bias: torch.Tensor | None = None,
    differentiable: bool = False,
) -> torch.Tensor:
    """Mark ``z`` as the output of an LRP-epsilon unit.

    Parameters
    ----------
    z : Tensor (B, C, *S)
        Pre-activation of a linear unit.
    epsilon : float
        Stabiliser of the rule.
    bias : Tensor (C,), optional
        The unit's (BatchNorm-merged) bias, to leave it out of the denominator, as zennit's
        ``zero_params="bias"``: relevance is then conserved layer by layer.
    differentiable : bool
        If True, use ``z * s + (z * (1 - s)).detach()`` with ``s`` the detached ratio: same value
        and same modified gradient, but the relevance stays differentiable w.r.t. the parameters
        that produced ``z`` (for heat-map losses with ``create_graph=True``).
    """
    if differentiable:
        with torch.no_grad():
            s = epsilon_ratio(z, epsilon, bias)
        zs = z * s
        return zs + (z.detach() - zs.detach())
    return EpsilonScale.apply(z, epsilon, bias)


def _layer_function(module: nn.Module):
    """``f(x, weight)`` computing ``module``'s linear map without bias."""
    if isinstance(module, nn.Linear):
        return lambda x, w: F.linear(x, w)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[module.weight.dim() - 2]
        return lambda x, w: conv(
            x, w, None, module.stride, module.padding, module.dilation, module.groups
        )
    raise TypeError(f"no LRP input rule for {type(module).__name__}")


def flat_rule(
    module: nn.Module, x: torch.Tensor, relevance_out: torch.Tensor, stabilizer: float = 1e-6
) -> torch.Tensor:
    """LRP Flat rule: distribute output relevance uniformly over each output's receptive field.

    Parameters
    ----------
    module : nn.Linear or nn.ConvNd
    x : Tensor
        The module's input, e.g. (B, C_in, N) for Conv1d; only its shape is used.
    relevance_out : Tensor
        Relevance of the module's (BatchNorm-merged) output, e.g. (B, C_out, N).

    Returns
    -------
    Tensor, same shape as ``x``: the input relevance.
    """
    if is_pointwise(module):
        # z = fan-in everywhere: each input channel gets sum_out R_out / stab(fan-in)
        fan_in = torch.full((), module.weight.shape[1], dtype=relevance_out.dtype, device=relevance_out.device)
        share = relevance_out / stabilize(fan_in, stabilizer)
        if isinstance(module, nn.Linear):
            return share.sum(-1, keepdim=True).expand(x.shape)
        return share.sum(1, keepdim=True).expand(x.shape)
    return _flat_rule_autograd(module, x, relevance_out, stabilizer)


def is_pointwise(module: nn.Module) -> bool:
    """A Linear layer, or a convolution with kernel size 1, stride 1, no padding, one group:
    every output sees exactly the input channels of its own position."""
    if isinstance(module, nn.Linear):
        return True
    return (
        isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
        and all(k == 1 for k in module.kernel_size)
        and all(s == 1 for s in module.stride)
        and not isinstance(module.padding, str)
        and all(p == 0 for p in module.padding)
        and module.groups == 1
    )


def _flat_rule_autograd(
    module: nn.Module, x: torch.Tensor, relevance_out: torch.Tensor, stabilizer: float = 1e-6
) -> torch.Tensor:
    """:func:`flat_rule` for any layer: the gradient of the unit-weight map at unit inputs."""
    fn = _layer_function(module)
    ones = torch.ones_like(x).requires_grad_(True)
    w = torch.ones_like(module.weight)
    with torch.enable_grad():
        z = fn(ones, w)
        (grad,) = torch.autograd.grad(
            z, ones, relevance_out / stabilize(z.detach(), stabilizer),
            create_graph=relevance_out.requires_grad,
        )
    return grad
