"""Non-LRP attributions: gradient, input x gradient and random (a sanity baseline)."""

from __future__ import annotations

import torch
from torch import nn

from ..models.attribution import attribution_mode
from .targets import default_target, eval_mode, forward_model, select_output


def _input_gradient(model, points, target, category):
    x = points.detach().requires_grad_(True)
    with eval_mode(model), attribution_mode(), torch.enable_grad():
        logits = forward_model(model, x, category)
        if target is None:
            target = default_target(logits.detach())
        (grad,) = torch.autograd.grad(select_output(logits, target).sum(), x)
    return x.detach(), grad


def gradient(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-point sensitivity: the L2 norm over channels of d(target logit)/d(points), (B, N)."""
    _, grad = _input_gradient(model, points, target, category)
    return grad.norm(dim=-1)


def input_x_gradient(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
) -> torch.Tensor:
    """Input x gradient summed over channels, (B, N) (signed, like LRP)."""
    x, grad = _input_gradient(model, points, target, category)
    return (x * grad).sum(dim=-1)


def random_relevance(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform random relevance (B, N): the control that every occlusion curve is compared with."""
    b, n = points.shape[:2]
    return torch.rand(b, n, generator=generator, device=points.device)
