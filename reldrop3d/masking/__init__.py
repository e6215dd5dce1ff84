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
