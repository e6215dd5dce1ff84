"""A model's explanation of one sample: prediction, relevance of a target class, RelDrop mask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..masking import defaults
from .arrays import to_numpy


@dataclass
class Explained:
    """A model's view of one sample: prediction, relevance of ``target`` and a RelDrop mask."""

    pred: int
    target: int
    relevance: np.ndarray
    mask: np.ndarray
    probs: np.ndarray


RelevanceFn = Callable[..., "object"]


class Explainer:
    """A model, its relevance method and the RelDrop rule whose mask the viewer shows.

    Parameters
    ----------
    model : nn.Module
        Classifier taking (B, N, C) points, returning logits (B, K).
    name : str
        Shown in captions (e.g. the checkpoint's file name).
    method : str
        Relevance method of :func:`reldrop3d.explain.relevance`.
    alpha, beta : float
        RelDrop parameters of the mask.
    seed : int
        The mask of sample ``i`` is drawn from a generator seeded with ``(seed, i)``, so it is the
        same every time the sample is shown.
    relevance_fn : callable, optional
        ``(model, points (B,N,C), target (B,), method) -> (B, N)``; default
        :func:`reldrop3d.explain.relevance`.
    """

    def __init__(self, model, name: str = "model", method: str = "lrp",
                 alpha: float = defaults.ALPHA, beta: float = defaults.BETA, seed: int = 0, relevance_fn: RelevanceFn | None = None):
        from ..masking import RelDrop

        self.model = model.eval()
        self.name, self.method, self.seed = name, method, seed
        self.masker = RelDrop(alpha, beta)
        if relevance_fn is None:
            from ..explain import relevance as relevance_fn
        self.relevance_fn = relevance_fn

    def __call__(self, points: np.ndarray, target: int | None, index: int = 0) -> Explained:
        """Explain one cloud (N, C); ``target`` None = the predicted class."""
        import torch

        x = torch.as_tensor(np.ascontiguousarray(points), dtype=torch.float32)[None]
        with torch.no_grad():
            logits = self.model(x)
        if logits.dim() != 2:
            shape = tuple(logits.shape)
            raise ValueError(f"{self.name}: expected class logits (B, K), got {shape}")
        probs = torch.softmax(logits.float(), -1)[0]
        pred = int(probs.argmax())
        t = pred if target is None else int(target)
        if not 0 <= t < probs.numel():
            raise ValueError(f"target class {t} out of range for {probs.numel()} classes")
        r = self.relevance_fn(self.model, x, torch.tensor([t]), method=self.method)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        mask = self.masker.mask(x, r.detach().float(), gen)
        return Explained(pred, t, to_numpy(r[0]).astype(np.float64), to_numpy(mask[0]).astype(bool),
                         to_numpy(probs).astype(np.float64))


__all__ = ["Explained", "Explainer", "RelevanceFn"]
