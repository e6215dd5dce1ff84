"""Running a model for attribution and selecting the explained output."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def forward_model(
    model: nn.Module, points: torch.Tensor, category: torch.Tensor | None = None
) -> torch.Tensor:
    """``model(points)`` or, for part segmenters, ``model(points, category)``."""
    if getattr(model, "task", "cls") == "partseg":
        if category is None:
            raise ValueError("relevance of a part segmenter needs the category labels (B,)")
        return model(points, category)
    return model(points)


def select_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The target logit of every sample (B,) or of every point (B, N) (part segmenters)."""
    if logits.dim() == 2:
        if target.shape != logits.shape[:1]:
            raise ValueError(f"target must be (B,) = {tuple(logits.shape[:1])}, got {tuple(target.shape)}")
        return logits.gather(1, target[:, None]).squeeze(1)
    if logits.dim() == 3:
        if target.shape != logits.shape[:2]:
            raise ValueError(f"target must be (B, N) = {tuple(logits.shape[:2])}, got {tuple(target.shape)}")
        return logits.gather(2, target[..., None]).squeeze(2)
    raise ValueError(f"cannot select a target from logits of shape {tuple(logits.shape)}")


def select_output(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample explained score: the target logit.

    Parameters
    ----------
    logits : Tensor (B, K) or (B, N, P)
        Classifier logits, or per-point part logits.
    target : Tensor (B,) or (B, N), int64
        Class per sample, or part label per point (the explained score is then the sum over points
        of each point's target-part logit).

    Returns
    -------
    Tensor (B,)
    """
    sel = select_logits(logits, target)
    return sel if sel.dim() == 1 else sel.sum(1)


def default_target(logits: torch.Tensor) -> torch.Tensor:
    """The predicted class (B,) or part per point (B, N)."""
    return logits.argmax(dim=-1)


@contextlib.contextmanager
def eval_mode(model: nn.Module, enabled: bool = True):
    """Temporarily put ``model`` in eval mode; restores each submodule's own training flag."""
    if not enabled:
        yield model
        return
    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags.items():
            m.training = flag
