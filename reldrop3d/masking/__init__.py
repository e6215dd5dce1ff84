"""Masking: which input elements to drop and what they become.

``RelDrop(alpha, beta, fill=...)(points, relevance) -> (points_masked, mask)``; the rules in
:mod:`.rules` work on any element layout (points or pixels).
"""

from .fills import FILLS, apply_fill
from .reldrop import RandomPointDropout, RelDrop
from .rules import expected_drop_rate, minmax_normalize, random_dropout_mask, reldrop_mask

__all__ = [
    "FILLS",
    "RandomPointDropout",
    "RelDrop",
    "apply_fill",
    "expected_drop_rate",
    "minmax_normalize",
    "random_dropout_mask",
    "reldrop_mask",
]

from .api import MODES, Masker, make_masker, mask_batch  # noqa: E402
from .image import (  # noqa: E402
    apply_image_fill,
    block_mask,
    patch_mask,
    pixel_mask,
    region_image_mask,
)
from .region import greedy_regions, region_point_mask, rule_score  # noqa: E402

__all__ += [
    "MODES",
    "Masker",
    "apply_image_fill",
    "block_mask",
    "greedy_regions",
    "make_masker",
    "mask_batch",
    "patch_mask",
    "pixel_mask",
    "region_image_mask",
    "region_point_mask",
    "rule_score",
]
