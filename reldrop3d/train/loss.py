"""The training-step loss, defined once: cross-entropy, the model's auxiliary loss and an optional
explanation-guidance penalty.

Used by the Lightning module (:class:`reldrop3d.train.module.PointCloudTask`) and by the
guidance bias experiment (:mod:`reldrop3d.experiments.bias`), so both optimise the same objective.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

#: weight of a model's ``aux_loss`` (PointNet's feature-transform regulariser, as in its paper)
AUX_LOSS_WEIGHT = 0.001


class StepLoss(NamedTuple):
    """What one training step computed: the total ``loss``, the ``logits`` of the forward pass
    and the guidance ``penalty`` (None without guidance)."""

    loss: torch.Tensor
    logits: torch.Tensor
    penalty: torch.Tensor | None


def task_loss(model: nn.Module, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus ``AUX_LOSS_WEIGHT`` times the model's ``aux_loss`` (when it has one
    that carries a gradient).

    Parameters
    ----------
    model : nn.Module
        The model that produced ``logits`` (read for ``aux_loss`` only).
    logits : Tensor (B, K) for classification or (B, N, P) for part segmentation
    target : LongTensor (B,) or (B, N)
    """
    if logits.dim() == 3:
        logits = logits.transpose(1, 2)  # (B, P, N) for cross_entropy
    loss = F.cross_entropy(logits, target)
    aux = getattr(model, "aux_loss", None)
    if isinstance(aux, torch.Tensor) and aux.requires_grad:
        loss = loss + AUX_LOSS_WEIGHT * aux
    return loss


def training_loss(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    category: torch.Tensor | None = None,
    roi: torch.Tensor | None = None,
    guidance=None,
    guidance_weight: float = 1.0,
) -> StepLoss:
    """One training step's loss: ``task_loss(model(x)) + guidance_weight * guidance(...)``.

    When the guidance loss differentiates with respect to the input, ``x`` is made to require
    grad before the forward so that the penalty reuses the forward's logits.

    Parameters
    ----------
    model : nn.Module
        In the mode the caller wants for the forward (usually train mode). Called as
        ``model(x, category)`` when ``category`` is given (part segmentation), else ``model(x)``.
    x : Tensor (B, N, C) points or (B, C, H, W) images
    target : LongTensor (B,) class labels or (B, N) part labels
    category : LongTensor (B,), optional
    roi : BoolTensor (B, N) or (B, H, W), optional
        Region of interest; required with ``guidance``.
    guidance : reldrop3d.guidance.GuidanceLoss, optional
    guidance_weight : float

    Raises
    ------
    ValueError
        ``guidance`` without ``roi``.
    """
    if guidance is not None:
        if roi is None:
            raise ValueError(
                "a guidance loss needs a region-of-interest mask 'roi' in every training batch "
                "(e.g. --data synthetic --data-kw clutter=biased)"
            )
        if guidance.needs_input_grad:
            x = x.detach().requires_grad_(True)
    logits = model(x) if category is None else model(x, category)
    loss = task_loss(model, logits, target)
    penalty = None
    if guidance is not None:
        penalty = guidance(model, x, target, roi.bool(), logits=logits, category=category)
        loss = loss + guidance_weight * penalty
    return StepLoss(loss, logits, penalty)
