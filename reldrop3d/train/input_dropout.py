"""Input dropout applied inside a training step: none, random, or RelDrop.

RelDrop explains the current model on the clean batch (in eval mode, so BatchNorm statistics and
dropout are untouched) and masks the most relevant points; the training forward pass that follows
runs in train mode on the masked batch.
"""

from __future__ import annotations

import torch
from torch import nn

from ..explain import relevance
from ..explain.images import image_relevance
from ..masking import RandomPointDropout, make_masker, mask_batch


class InputDropout:
    """Callable ``(model, points, target, category) -> (points, mask or None)``.

    Parameters
    ----------
    kind : {"none", "random", "reldrop"}
    alpha, beta, fill, p : see :class:`reldrop3d.masking.RelDrop`
    max_ratio : float
        For ``random``: the PointNet++ maximum dropout ratio.
    method : str
        Relevance method for ``reldrop`` (see :func:`reldrop3d.explain.relevance`).
    mode : str
        Mask mode (:func:`reldrop3d.masking.make_masker`); ``point`` means ``pixel`` for images.
    images : bool
        Inputs are images (B, C, H, W) with relevance (B, H, W).
    """

    def __init__(
        self,
        kind: str = "reldrop",
        alpha: float = 0.5,
        beta: float = 0.5,
        fill: str = "zero",
        p: float = 1.0,
        max_ratio: float = 0.875,
        method: str = "lrp",
        mode: str = "point",
        images: bool = False,
    ):
        self.kind = kind
        self.method = method
        self.images = images
        if images and mode == "point":
            mode = "pixel"  # the paper's element-wise rule on pixels
        if kind == "reldrop":
            self.masker = make_masker(mode=mode, alpha=alpha, beta=beta, fill=fill, p=p)
        elif kind == "random" and images:
            # random pixel dropout = the rule with alpha = 1 (relevance ignored), rate ~ max_ratio / 2
            self.masker = make_masker(mode="pixel", alpha=1.0, beta=max_ratio / 2, fill=fill, p=p)
        elif kind == "random":
            self.masker = RandomPointDropout(max_ratio=max_ratio, p=p)
        elif kind == "none":
            self.masker = None
        else:
            raise ValueError(f"unknown input dropout {kind!r}")

    def __call__(
        self,
        model: nn.Module,
        points: torch.Tensor,
        target: torch.Tensor,
        category: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.masker is None:
            return points, None
        if self.kind == "random":
            if self.images:
                return self.masker(points, torch.zeros(points.shape[:1] + points.shape[2:], device=points.device))
            return self.masker(points)

        def explain(idx: torch.Tensor) -> torch.Tensor:
            # only the samples chosen for masking (a share p of the batch) are explained
            if self.images:
                return image_relevance(model, points[idx], target[idx], method=self.method)
            cat = None if category is None else category[idx]
            return relevance(model, points[idx], target[idx], method=self.method, category=cat)

        return mask_batch(self.masker, points, explain)
