"""The paper's RelDrop and PointNet++'s random dropout as :class:`~.api.Masker` instances.

Both share ``Masker``'s call ``masker(x, relevance) -> (x_masked, mask)``, its share ``p`` and
its fills; they only fix the mode (``point`` and ``random``).
"""

from __future__ import annotations

from . import defaults
from .api import Masker


class RelDrop(Masker):
    """Relevance-driven input dropout (RelDrop, arXiv 2505.21595) for point clouds.

    ``Masker("point", alpha=alpha, beta=beta)``: the paper's rule per point.

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
    >>> masker = RelDrop(alpha=0.3, beta=0.25)
    >>> x_masked, mask = masker(points, relevance)  # (B, N, C), (B, N) bool (True = dropped)
    """

    def __init__(
        self,
        alpha: float = defaults.ALPHA,
        beta: float = defaults.BETA,
        fill: str = defaults.FILL,
        p: float = defaults.P,
    ):
        super().__init__("point", fill=fill, p=p, alpha=alpha, beta=beta)

    def __repr__(self) -> str:
        return f"RelDrop(alpha={self.alpha}, beta={self.beta}, fill={self.fill!r}, p={self.p})"


class RandomPointDropout(Masker):
    """PointNet++'s random input dropout: ratio ~ U(0, max_ratio) per sample, fill = first point.

    ``Masker("random", max_ratio=max_ratio, fill="first")``; the relevance argument is optional
    and ignored.
    """

    def __init__(
        self,
        max_ratio: float = defaults.RANDOM_MAX_RATIO,
        fill: str = defaults.RANDOM_FILL,
        p: float = defaults.P,
    ):
        super().__init__("random", fill=fill, p=p, max_ratio=max_ratio)

    def __repr__(self) -> str:
        return f"RandomPointDropout(max_ratio={self.max_ratio}, fill={self.fill!r}, p={self.p})"
