"""ISNet heat-map loss (Bassi, Dertkigil & Cavalli, Nature Communications 15, 291, 2024):
minimise background LRP relevance, keep the total foreground relevance in a natural range."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..explain import fast_lrp
from .base import GuidanceLoss, batch_statistics_as_constants, element_layout

HeatmapFn = Callable[..., torch.Tensor]


def gwrp(values: torch.Tensor, mask: torch.Tensor, d: float = 0.9) -> torch.Tensor:
    """Global weighted rank pooling over the masked elements of each sample.

    ``GWRP_d(v) = sum_i d^i v_(i) / sum_i d^i`` with ``v_(0) >= v_(1) >= ...`` the masked values
    sorted in descending order (Kolesnikov & Lampert's pooling, as used by ISNet): d = 0 is a max,
    d = 1 a mean.

    Parameters
    ----------
    values : Tensor (B, M), >= 0
    mask : BoolTensor (B, M)
    d : float in [0, 1]

    Returns
    -------
    Tensor (B,); 0 for samples without masked elements.
    """
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"GWRP decay d must lie in [0, 1], got {d}")
    filled = torch.where(mask, values, values.new_full((), -1.0))
    ranked = filled.sort(dim=1, descending=True).values
    count = mask.sum(1, keepdim=True)
    rank = torch.arange(values.shape[1], device=values.device)
    w = (d ** rank.to(values.dtype)).unsqueeze(0) * (rank.unsqueeze(0) < count)
    return (ranked.clamp(min=0) * w).sum(1) / w.sum(1).clamp(min=1e-12)


def lrp_heatmap(model, x, target, category=None, eval: bool = False) -> torch.Tensor:
    """Differentiable LRP heat-map, (B, N) per point or (B, H, W) per pixel, through the fast LRP
    path. In train mode (``eval=False``) BatchNorm normalises with the batch statistics held
    constant (:func:`~reldrop3d.guidance.base.batch_statistics_as_constants`): per-sample
    relevance, running statistics untouched."""
    with batch_statistics_as_constants(model):
        h = fast_lrp(model, x, target, category, differentiable=True, eval=eval)
    if not h.requires_grad:
        raise TypeError(
            f"the LRP heat-map of {type(model).__name__} is not differentiable w.r.t. its "
            "parameters (its relevance routing detaches the graph); ISNet needs it"
        )
    return h


class ISNetLoss(GuidanceLoss):
    """The ISNet heat-map loss ``w1 * bkg + w2 * fg`` (mean over the batch).

    With ``H`` the LRP heat-map of the true class (:func:`lrp_heatmap`) and ``A = |H|``:

    * ``E_fg = mean_ROI A``; ``bkg = log(1 + GWRP_d(A / E_fg with the ROI set to 0) / E)``, the
      GWRP weights running over all elements (ISNet pools the zeroed foreground with the
      background, so the zeros only lower the denominator when the background is small);
    * ``F = sum_ROI A``; ``fg = (relu(C1 - F) / C1)^2 + (relu(F - C2) / C1)^2``: both sides are
      divided by C1, as the reference code does (``mse(clamp(F/C1, max=1), 1)`` and
      ``mse(clamp(F/C1, min=C2/C1), C2/C1)``), so exceeding C2 costs ``(C2/C1)^2`` times more
      than dividing the upper side by C2 would.

    The paper's total is ``(1 - P) * CE + P * (w1 * bkg + w2 * fg)``; the trainer's
    ``CE + weight * loss`` is the same objective scaled by ``1 / (1 - P)`` for
    ``weight = P / (1 - P)`` (:meth:`total` gives the paper's form).

    Parameters
    ----------
    c1, c2 : float
        Natural range of the total absolute relevance; tune them on a normally trained model
        with :func:`tune_isnet_bounds` (over the whole heat-map, as ISNet does).
    w1, w2 : float
        Weights of the background and foreground terms (paper: 1 and 3).
    d : float
        GWRP decay.
    E : float
        Scale of the background term.
    heatmap_fn : callable, optional
        ``(model, x, target, category) -> (B, N) or (B, H, W)`` differentiable heat-maps; default
        :func:`lrp_heatmap` (models declaring ``lrp_input_layers``, points or images).
    eval : bool
        Compute the default LRP heat-maps in eval mode (default False: the train-mode graph).
    """

    name = "isnet"

    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 25.0,
        w1: float = 1.0,
        w2: float = 3.0,
        d: float = 0.9,
        E: float = 1.0,
        heatmap_fn: HeatmapFn | None = None,
        eval: bool = False,
        eps: float = 1e-8,
    ):
        if not 0 < c1 <= c2:
            raise ValueError(f"ISNet needs 0 < c1 <= c2, got c1={c1}, c2={c2}")
        if not 0.0 <= d <= 1.0:
            raise ValueError(f"GWRP decay d must lie in [0, 1], got {d}")
        if not E > 0 or w1 < 0 or w2 < 0:
            raise ValueError(f"ISNet needs E > 0, w1, w2 >= 0; got E={E}, w1={w1}, w2={w2}")
        self.c1, self.c2, self.w1, self.w2, self.d, self.E = c1, c2, w1, w2, d, E
        self.heatmap_fn = heatmap_fn
        self.eval = eval
        self.eps = eps

    def heatmap(self, model, x, target, category=None) -> torch.Tensor:
        if self.heatmap_fn is not None:
            return self.heatmap_fn(model, x, target, category)
        return lrp_heatmap(model, x, target, category, eval=self.eval)

    def terms(self, heatmap: torch.Tensor, roi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Background and foreground terms (B,), (B,) of a heat-map (B, ...) and ROI (B, ...)."""
        a = heatmap.flatten(1).abs()
        fg_mask = roi.flatten(1)
        fg_total = (a * fg_mask).sum(1)
        fg_mean = fg_total / fg_mask.sum(1).clamp(min=1)
        normalized = a / (fg_mean.unsqueeze(1) + self.eps)
        background = normalized * ~fg_mask
        bkg = torch.log1p(gwrp(background, torch.ones_like(fg_mask), self.d) / self.E)
        fg = (torch.relu(self.c1 - fg_total) / self.c1).square()
        fg = fg + (torch.relu(fg_total - self.c2) / self.c1).square()
        return bkg, fg

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        h = self.heatmap(model, x, target, category)
        if h.shape != roi.shape:
            raise ValueError(f"heat-map {tuple(h.shape)} does not match the ROI {tuple(roi.shape)}")
        bkg, fg = self.terms(h, roi)
        return (self.w1 * bkg + self.w2 * fg).mean()

    @staticmethod
    def total(ce: torch.Tensor, heatmap_loss: torch.Tensor, p: float = 0.5) -> torch.Tensor:
        """The paper's objective ``(1 - P) * CE + P * heatmap_loss``."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"P must lie in [0, 1], got {p}")
        return (1 - p) * ce + p * heatmap_loss


def _unpack(batch, region: str):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError("relevance totals: every batch must be (x, target) or (x, target, roi)")
    x, target = batch[0], batch[1]
    roi = batch[2] if len(batch) == 3 else None
    if region == "roi" and roi is None:
        raise ValueError("relevance totals over the ROI need (x, target, roi) batches")
    return x, target, roi


@torch.no_grad()
def relevance_totals(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, ...]],
    heatmap_fn: HeatmapFn | None = None,
    region: str = "image",
) -> torch.Tensor:
    """Total absolute relevance ``sum |H|`` of every sample, (M,).

    Parameters
    ----------
    model : nn.Module
        A normally trained model (explained in eval mode).
    batches : iterable of (x, target) or (x, target, roi)
        (B, N, C) or (B, C, H, W) inputs, (B,) labels, (B, N) or (B, H, W) bool ROI masks.
    heatmap_fn : callable, optional
        As in :class:`ISNetLoss`; default: LRP (detached, eval mode).
    region : {"image", "roi"}
        Sum over the whole heat-map (``"image"``: what ISNet tunes C1, C2 on) or over the ROI.
    """
    if region not in ("image", "roi"):
        raise ValueError(f"region must be 'image' or 'roi', got {region!r}")
    totals = []
    for batch in batches:
        x, target, roi = _unpack(batch, region)
        if roi is not None:
            element_layout(x, roi)
        with torch.enable_grad():
            if heatmap_fn is None:
                h = fast_lrp(model, x, target)
            else:
                h = heatmap_fn(model, x, target, None).detach()
        a = h.flatten(1).abs()
        totals.append(a.sum(1) if region == "image" else (a * roi.flatten(1)).sum(1))
    if not totals:
        raise ValueError("relevance totals: no batches given")
    return torch.cat(totals)


def foreground_relevance(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    heatmap_fn: HeatmapFn | None = None,
) -> torch.Tensor:
    """Total absolute foreground relevance ``sum_ROI |H|`` of every sample, (M,)
    (:func:`relevance_totals` with ``region="roi"``)."""
    return relevance_totals(model, batches, heatmap_fn, region="roi")


def isnet_bounds(totals: torch.Tensor) -> tuple[float, float]:
    """ISNet's C1, C2 from the relevance totals (M,) of a normally trained model:
    ``C1 = max(mu / 5, mu - 3 sigma)``, ``C2 = min(25 C1, mu + 3 sigma)``."""
    if totals.numel() < 2 or not torch.isfinite(totals).all():
        raise ValueError("isnet_bounds needs at least two finite relevance totals")
    mu, sigma = totals.mean().item(), totals.std().item()
    c1 = max(mu / 5, mu - 3 * sigma)
    c2 = min(25 * c1, mu + 3 * sigma)
    if not c1 > 0:
        raise ValueError(f"relevance totals have mean {mu:.3g} <= 0: cannot tune C1")
    return c1, max(c2, c1)


def tune_isnet_bounds(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, ...]],
    heatmap_fn: HeatmapFn | None = None,
    region: str = "image",
) -> tuple[float, float]:
    """C1, C2 for :class:`ISNetLoss` from a normally trained ``model`` on ``batches``.

    ISNet's reference code (``LRPLossCEValleysGWRP(..., tuneCut=True)`` in P. R. A. S. Bassi's
    ISNet repository) returns the sum of the absolute heat-map over the *whole* image for this
    (the foreground-only sum is commented out there), so ``region="image"`` is the default;
    ``region="roi"`` tunes on the foreground sum instead (what this function did before).
    See :func:`relevance_totals` and :func:`isnet_bounds`.
    """
    return isnet_bounds(relevance_totals(model, batches, heatmap_fn, region))
