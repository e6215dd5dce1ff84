"""Localisation losses of Rao, Böhle, Parchami-Araghi & Schiele ("Studying How to Efficiently and
Effectively Guide Models with Explanations", ICCV 2023): Energy, L1 and per-pixel cross entropy
(PPCE) on the positive part of an attribution."""

from __future__ import annotations

import torch

from ..explain.targets import select_output
from .base import GuidanceLoss, channel_sum, forward_with_input_grad, input_grad
from .isnet import lrp_heatmap

ATTRIBUTIONS = ("input_x_gradient", "lrp")


def positive_attribution(
    model, x, target, layout, logits=None, category=None, attribution="input_x_gradient"
) -> torch.Tensor:
    """``a+ = max(a, 0)`` of a differentiable attribution of the target output.

    Parameters
    ----------
    model : nn.Module
    x : Tensor (B, N, C) or (B, C, H, W)
    target : LongTensor (B,) or (B, N)
    layout : {"points", "images"}
    logits : Tensor, optional (reused for ``input_x_gradient``, see
        :func:`~reldrop3d.guidance.base.forward_with_input_grad`)
    category : LongTensor (B,), optional
    attribution : {"input_x_gradient", "lrp"}
        Input x gradient summed over channels (``create_graph=True``), or the fast LRP path with
        ``differentiable=True`` in the model's current mode (models declaring
        ``lrp_input_layers``).

    Returns
    -------
    Tensor (B, N) or (B, H, W), >= 0, differentiable w.r.t. the parameters.
    """
    if attribution == "input_x_gradient":
        x, logits = forward_with_input_grad(model, x, logits, category)
        a = channel_sum(x * input_grad(select_output(logits, target), x), layout)
    elif attribution == "lrp":
        a = lrp_heatmap(model, x, target, category, eval=False)
    else:
        raise ValueError(f"attribution must be one of {ATTRIBUTIONS}, got {attribution!r}")
    return a.clamp(min=0)


def _max_normalized(a: torch.Tensor, eps: float) -> torch.Tensor:
    """``a / max(a)`` per sample (B, ...) -> (B, ...)."""
    return a / (a.flatten(1).amax(1).view(-1, *([1] * (a.dim() - 1))) + eps)


class _RaoLoss(GuidanceLoss):
    """Shared parameters of the three losses.

    Parameters
    ----------
    attribution : {"input_x_gradient", "lrp"}
        See :func:`positive_attribution`.
    eps : float
        Stabiliser of the divisions (and the clamp of PPCE's log).
    """

    def __init__(self, attribution: str = "input_x_gradient", eps: float = 1e-6):
        if attribution not in ATTRIBUTIONS:
            raise ValueError(f"attribution must be one of {ATTRIBUTIONS}, got {attribution!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.attribution = attribution
        self.eps = float(eps)

    @property
    def needs_input_grad(self) -> bool:
        return self.attribution == "input_x_gradient"

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        a = positive_attribution(model, x, target, layout, logits, category, self.attribution)
        return self.localization(a.flatten(1), roi.flatten(1)).mean()

    def localization(self, a: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
        """Per-sample loss (B,) from a+ (B, M) and the ROI (B, M)."""
        raise NotImplementedError


class EnergyLoss(_RaoLoss):
    """``1 - sum_ROI a+ / sum a+`` per sample, averaged: 0 when all positive attribution lies in
    the ROI, 1 when none does (or when there is no positive attribution)."""

    name = "energy"

    def localization(self, a, roi):
        return 1 - (a * roi).sum(1) / (a.sum(1) + self.eps)


class L1Loss(_RaoLoss):
    """``mean |a+ / max a+ - ROI|`` per sample, averaged: 0 when the normalised attribution is 1
    on every ROI element and 0 elsewhere."""

    name = "l1"

    def localization(self, a, roi):
        return (_max_normalized(a, self.eps) - roi.to(a.dtype)).abs().mean(1)


class PPCELoss(_RaoLoss):
    """``mean over ROI of -log(a+ / max a+)`` per sample (clamped at ``eps``), averaged: pushes
    attribution up everywhere on the ROI relative to its maximum."""

    name = "ppce"

    def localization(self, a, roi):
        nll = -_max_normalized(a, self.eps).clamp(min=self.eps).log()
        return (nll * roi).sum(1) / roi.sum(1).clamp(min=1)
