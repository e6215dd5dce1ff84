"""Pixel relevance (B, H, W) for image models (B, C, H, W) -> (B, K).

``image_relevance(model, images, target, method)``:

================ ===================================================================================
``lrp``           models declaring ``lrp_input_layers`` (``small_cnn``): the fast LRP path of
                  :mod:`.fast_lrp` (Flat on the input layer, Epsilon elsewhere, BatchNorm merged)
                  when it accepts 4-D input, else the same rules through zennit
                  (:mod:`.zennit_lrp`);
                  models with ``lrp_canonizer = "resnet"`` (``resnet18``): zennit's EpsilonPlusFlat
                  composite with ``ResNetCanonizer``
``lrp_zennit``    always through zennit
``gradient``      L2 norm over channels of the input gradient
``input_x_gradient`` input x gradient summed over channels
``random``        uniform noise (control)
================ ===================================================================================

Pixel relevance is the input relevance summed over the channels.
"""

from __future__ import annotations

import torch
from torch import nn

from .fast_lrp import LRPConfig, fast_lrp
from .targets import default_target, eval_mode, select_output

IMAGE_METHODS = ("lrp", "lrp_zennit", "gradient", "input_x_gradient", "random")


def _check(images: torch.Tensor) -> None:
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")


def _resnet_lrp(model: nn.Module, images: torch.Tensor, target, config: LRPConfig):
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer

    composite = EpsilonPlusFlat(epsilon=config.epsilon, canonizers=[ResNetCanonizer()])
    x = images.detach().requires_grad_(True)
    with eval_mode(model), composite.context(model), torch.enable_grad():
        logits = model(x)
        if target is None:
            target = default_target(logits.detach())
        score = select_output(logits, target)
        (rel,) = torch.autograd.grad(score, x, score.detach())
    return rel.sum(dim=1).detach()


def _lrp(model, images, target, config: LRPConfig, use_zennit: bool = False):
    if getattr(model, "lrp_canonizer", None) == "resnet":
        return _resnet_lrp(model, images, target, config)
    if not use_zennit:
        try:
            return fast_lrp(model, images, target, config=config)
        except ValueError as err:  # fast_lrp only accepts (B, N, C) points so far
            if "must be (B, N, C)" not in str(err):
                raise
    from .zennit_lrp import zennit_lrp

    return zennit_lrp(model, images, target, config=config)


def _gradient(model, images, target):
    x = images.detach().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        logits = model(x)
        if target is None:
            target = default_target(logits.detach())
        (grad,) = torch.autograd.grad(select_output(logits, target).sum(), x)
    return x.detach(), grad


def image_relevance(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor | None = None,
    method: str = "lrp",
    config: LRPConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pixel relevance of ``target`` (default: the predicted class).

    Parameters
    ----------
    model : nn.Module
        An image classifier (B, C, H, W) -> (B, K).
    images : Tensor (B, C, H, W)
    target : LongTensor (B,), optional
    method : str
        One of :data:`IMAGE_METHODS`.
    config : LRPConfig, optional
        LRP rules (epsilon, input rule, zero bias); default ``LRPConfig()``.
    generator : torch.Generator, optional
        For ``random``.

    Returns
    -------
    Tensor (B, H, W), detached. The model's training flags are unchanged.
    """
    _check(images)
    if method not in IMAGE_METHODS:
        raise ValueError(f"unknown image relevance method {method!r}; choose from {IMAGE_METHODS}")
    if method in ("lrp", "lrp_zennit"):
        config = config or LRPConfig()
        return _lrp(model, images, target, config, use_zennit=method == "lrp_zennit")
    if method == "random":
        b, _, h, w = images.shape
        return torch.rand(b, h, w, generator=generator, device=images.device)
    x, grad = _gradient(model, images, target)
    if method == "gradient":
        return grad.norm(dim=1)
    return (x * grad).sum(dim=1)
