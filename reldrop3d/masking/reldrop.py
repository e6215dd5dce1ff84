"""The masking API shared by all input types: ``masker(x, relevance) -> (x_masked, mask)``."""

from __future__ import annotations

import torch

from .fills import FILLS, apply_fill
from .rules import check_unit_interval, random_dropout_mask, reldrop_mask


def _apply_to_fraction(mask: torch.Tensor, p: float, generator) -> torch.Tensor:
    """Keep ``mask`` only for a random share ``p`` of the samples (others: nothing dropped)."""
    if p >= 1.0:
        return mask
    chosen = torch.rand(mask.shape[0], generator=generator, device=mask.device) < p
    return mask & chosen.view(-1, *([1] * (mask.dim() - 1)))


class RelDrop:
    """Relevance-driven input dropout (RelDrop, arXiv 2505.21595) for point clouds.

    Parameters
    ----------
    alpha : float in [0, 1]
        Randomness of the rule (1: random dropout at rate ``beta``).
    beta : float in [0, 1]
        Aggressiveness (larger drops more).
    fill : str
        What dropped points become; see :mod:`reldrop3d.masking.fills`.
    p : float in [0, 1]
        Share of each batch that is masked (each sample independently).

    Examples
    --------
    >>> masker = RelDrop(alpha=0.5, beta=0.5)
    >>> x_masked, mask = masker(points, relevance)  # (B, N, C), (B, N) bool (True = dropped)
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, fill: str = "zero", p: float = 1.0):
        check_unit_interval(alpha=alpha, beta=beta, p=p)
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; choose from {FILLS.names()}")
        self.alpha, self.beta, self.fill, self.p = float(alpha), float(beta), fill, float(p)

    def mask(self, relevance: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """BoolTensor (B, N): which points to drop, given relevance (B, N)."""
        mask = reldrop_mask(relevance, self.alpha, self.beta, generator)
        return _apply_to_fraction(mask, self.p, generator)

    def __call__(
        self,
        points: torch.Tensor,
        relevance: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask ``points`` (B, N, C) by ``relevance`` (B, N); returns ((B, N, C), (B, N) bool)."""
        if relevance.shape != points.shape[:2]:
            raise ValueError(
                f"relevance {tuple(relevance.shape)} does not match points {tuple(points.shape)}"
            )
        mask = self.mask(relevance, generator)
        return apply_fill(points, mask, self.fill), mask

    def __repr__(self) -> str:
        return f"RelDrop(alpha={self.alpha}, beta={self.beta}, fill={self.fill!r}, p={self.p})"


class RandomPointDropout:
    """PointNet++'s random input dropout: ratio ~ U(0, max_ratio) per sample, fill = first point.

    Same call signature as :class:`RelDrop`; the relevance argument is optional and ignored.
    """

    def __init__(self, max_ratio: float = 0.875, fill: str = "first", p: float = 1.0):
        check_unit_interval(p=p)
        if not 0.0 <= max_ratio < 1.0:
            raise ValueError(f"max_ratio must lie in [0, 1), got {max_ratio}")
        self.max_ratio, self.fill, self.p = float(max_ratio), fill, float(p)

    def __call__(self, points, relevance=None, generator=None):
        mask = random_dropout_mask(points.shape[:2], self.max_ratio, points.device, generator)
        mask = _apply_to_fraction(mask, self.p, generator)
        return apply_fill(points, mask, self.fill), mask

    def __repr__(self) -> str:
        return f"RandomPointDropout(max_ratio={self.max_ratio}, fill={self.fill!r}, p={self.p})"
