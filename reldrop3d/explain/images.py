"""Pixel relevance (B, H, W) for image models: a thin alias of :func:`reldrop3d.explain.relevance`.

Images go through the same front door as points; :func:`image_relevance` only insists on
(B, C, H, W) input and accepts the older ``config=`` name for the LRP rules. Prefer
``relevance(model, images, target, method=..., composite=...)``.

Pixel relevance is the input relevance summed over the channels. ResNet-18 (``lrp_canonizer =
"resnet"``) is explained through zennit with its ``ResNetCanonizer``; ``small_cnn`` through the
fast path.
"""

from __future__ import annotations

import torch
from torch import nn

from .composites import LRPConfig


def image_relevance(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor | None = None,
    method: str = "lrp",
    config: LRPConfig | str | None = None,
    **kwargs,
) -> torch.Tensor:
    """Pixel relevance (B, H, W) of ``target`` (default: the predicted class).

    Same as :func:`reldrop3d.explain.relevance` with ``composite=config``, for (B, C, H, W) only.
    """
    from . import relevance

    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    if config is not None:
        kwargs["composite"] = config
    return relevance(model, images, target, method=method, **kwargs)
