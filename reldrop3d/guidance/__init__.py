"""Explanation-guided training losses ("model guidance") and region-of-interest masks.

``create_guidance(name, **kw)`` builds a loss; each is called as
``loss_fn(model, x, target, roi, logits=None, category=None) -> scalar`` (unweighted; the
trainer adds ``weight * loss_fn(...)`` to the cross entropy). ``roi`` is True on the region of
interest: (B, N) for points (B, N, C), (B, H, W) for images (B, C, H, W).

============ =================================================================================
``rrr``      Right for the Right Reasons: squared input gradient of sum log p off the ROI
``gradmask`` GradMask: L1 input gradient of the class margin off the ROI
``actdiff``  ActDiff: activation change when the background is shuffled
``energy``   Rao et al.: 1 - share of positive attribution inside the ROI
``l1``       Rao et al.: mean |a+ / max a+ - ROI|
``ppce``     Rao et al.: per-element cross entropy of a+ / max a+ on the ROI
``isnet``    ISNet: background LRP relevance (GWRP) + foreground-range term
============ =================================================================================
"""

from __future__ import annotations

from ..utils.registry import Registry
from .actdiff import ActDiffLoss, shuffle_background
from .base import GuidanceLoss, element_layout, forward_with_input_grad
from .gradmask import GradMaskLoss, class_margin
from .isnet import (
    ISNetLoss,
    foreground_relevance,
    gwrp,
    isnet_bounds,
    relevance_totals,
    tune_isnet_bounds,
)
from .rao import EnergyLoss, L1Loss, PPCELoss, positive_attribution
from .roi import box_roi, energy_pointing_game, part_ids, roi_from_batch, roi_from_parts
from .rrr import RRRLoss

GUIDANCE = Registry("guidance loss")
for _cls in (RRRLoss, GradMaskLoss, ActDiffLoss, EnergyLoss, L1Loss, PPCELoss, ISNetLoss):
    GUIDANCE.register(_cls.name)(_cls)


def create_guidance(name: str, **kwargs) -> GuidanceLoss:
    """Build the registered guidance loss ``name`` (see the module docstring) with ``kwargs``."""
    return GUIDANCE.create(name, **kwargs)


def list_guidance() -> list[str]:
    """Names of the registered guidance losses."""
    return GUIDANCE.names()


__all__ = [
    "GUIDANCE",
    "ActDiffLoss",
    "EnergyLoss",
    "GradMaskLoss",
    "GuidanceLoss",
    "ISNetLoss",
    "L1Loss",
    "PPCELoss",
    "RRRLoss",
    "box_roi",
    "class_margin",
    "create_guidance",
    "element_layout",
    "energy_pointing_game",
    "foreground_relevance",
    "forward_with_input_grad",
    "gwrp",
    "isnet_bounds",
    "list_guidance",
    "part_ids",
    "positive_attribution",
    "relevance_totals",
    "roi_from_batch",
    "roi_from_parts",
    "shuffle_background",
    "tune_isnet_bounds",
]
