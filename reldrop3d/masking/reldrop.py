"""The paper's RelDrop and PointNet++'s random dropout as :class:`~.api.Masker` instances.

Both share ``Masker``'s call ``masker(x, relevance) -> (x_masked, mask)``, its per-sample share
``p`` and its fills; they only fix the mode (and, for random dropout, which points to drop).
"""

from __future__ import annotations

import torch

from .api import Masker
from .rules import random_dropout_mask


class RelDrop(Masker):
    """Relevance-driven input dropout (RelDrop, arXiv 2505.21595) for point clouds.

    ``Masker(mode="point")``: the paper's rule per point.

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
        super().__init__(mode="point", alpha=alpha, beta=beta, fill=fill, p=p)

    def __repr__(self) -> str:
        return f"RelDrop(alpha={self.alpha}, beta={self.beta}, fill={self.fill!r}, p={self.p})"


class RandomPointDropout(Masker):
    """PointNet++'s random input dropout: ratio ~ U(0, max_ratio) per sample, fill = first point.

    Same call as :class:`RelDrop`; the relevance argument is optional and ignored.
    """

    def __init__(self, max_ratio: float = 0.875, fill: str = "first", p: float = 1.0):
        if not 0.0 <= max_ratio < 1.0:
            raise ValueError(f"max_ratio must lie in [0, 1), got {max_ratio}")
        super().__init__(mode="point", alpha=1.0, beta=0.0, fill=fill, p=p)
        self.max_ratio = float(max_ratio)

    def mask(self, x, relevance=None, generator=None) -> torch.Tensor:
        """BoolTensor (B, N): random points of every sample of ``x`` (B, N, C)."""
        return random_dropout_mask(x.shape[:2], self.max_ratio, x.device, generator)

    def __call__(self, points, relevance=None, generator=None, index=None):
        if relevance is None:
            relevance = points.new_zeros(points.shape[:2])
        return super().__call__(points, relevance, generator, index)

    def __repr__(self) -> str:
        return f"RandomPointDropout(max_ratio={self.max_ratio}, fill={self.fill!r}, p={self.p})"
