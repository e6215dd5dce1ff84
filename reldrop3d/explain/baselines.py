"""Non-LRP attributions: gradient, input x gradient and random (a sanity baseline).

Each works on points (B, N, C) -> (B, N) and images (B, C, H, W) -> (B, H, W); the channel
dimension is reduced (:func:`.targets.channel_dim`).
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.attribution import attribution_mode
from .targets import channel_dim, default_target, eval_mode, explained_gradient, forward_model


def input_gradient(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    start: str = "logit",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input and the gradient of the explained quantity w.r.t. it, both detached.

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor (B, N, C) or (B, C, H, W)
    target : Tensor (B,) or (B, N), optional
        Default: the prediction.
    category : Tensor (B,), optional
        Object category (part segmenters).
    start : {"logit", "onehot", "log_softmax"}
        ``d z_t / d x`` for ``logit`` and ``onehot``, ``d log p_t / d x`` for ``log_softmax``
        (:func:`.targets.explained_gradient`).

    Returns
    -------
    inputs, grad : Tensor, same shape as ``inputs``
        Computed in eval mode and attribution mode; the model's training flags are unchanged.
    """
    x = inputs.detach().requires_grad_(True)
    with eval_mode(model), attribution_mode(), torch.enable_grad():
        logits = forward_model(model, x, category)
        if target is None:
            target = default_target(logits.detach())
        (grad,) = torch.autograd.grad(logits, x, explained_gradient(logits, target, start))
    return x.detach(), grad


def gradient(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    start: str = "logit",
) -> torch.Tensor:
    """Sensitivity: the L2 norm over channels of the input gradient, (B, N) or (B, H, W)."""
    _, grad = input_gradient(model, inputs, target, category, start)
    return grad.norm(dim=channel_dim(inputs))


def input_x_gradient(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    start: str = "logit",
) -> torch.Tensor:
    """Input x gradient summed over channels, (B, N) or (B, H, W) (signed, like LRP)."""
    x, grad = input_gradient(model, inputs, target, category, start)
    return (x * grad).sum(dim=channel_dim(inputs))


def random_relevance(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform random relevance, (B, N) or (B, H, W): the control that every occlusion curve is
    compared with."""
    shape = list(inputs.shape)
    del shape[channel_dim(inputs)]
    return torch.rand(shape, generator=generator, device=inputs.device)
