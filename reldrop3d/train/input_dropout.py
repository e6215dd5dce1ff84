"""Input dropout applied inside a training step: a :class:`~reldrop3d.masking.Masker` and,
if its mode uses relevance, how to explain the batch.

RelDrop explains the current model on the clean batch (in eval mode, so BatchNorm statistics and
dropout are untouched) and masks the most relevant points; the training forward pass that follows
runs in train mode on the masked batch.

With ``relevance_every=K > 1`` the relevance of each sample is kept in a
:class:`~reldrop3d.train.relevance_cache.RelevanceCache` and reused for ``K`` epochs (the mask
is still drawn fresh every step: only ``R`` is up to ``K - 1`` epochs old); see
docs/training.md, "Relevance reuse".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..explain import relevance
from ..masking import MASK_MODES, Masker, RandomPointDropout, defaults, make_masker, mask_batch
from .relevance_cache import RelevanceCache

# relevance_fn(model, x[idx], target[idx], category[idx] or None) -> (B', N) or (B', H, W)
RelevanceFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, "torch.Tensor | None"],
                       torch.Tensor]


class InputDropout:
    """Callable ``(model, x, target, category) -> (x, mask or None)``.

    Parameters
    ----------
    masker : Masker, optional
        What to drop (:func:`reldrop3d.masking.make_masker`); None: no input dropout.
    method : str
        Relevance method, for maskers whose mode uses relevance (see
        :func:`reldrop3d.explain.relevance`, points and images alike).
    relevance_fn : callable, optional
        ``relevance_fn(model, x, target, category) -> relevance`` replacing the default
        (e.g. a relevance cache); called on the samples chosen for masking only.
    generator : torch.Generator, optional
        For reproducible masks.
    relevance_every : int >= 1
        ``K``: reuse each sample's relevance for ``K`` epochs (1: fresh every step). A map is
        keyed by the sample's data-set index and validated by a fingerprint of its input bits in
        their point order and its target, so it is never served for another sample or order;
        calls then need ``index`` and ``epoch``.
    num_samples : int, optional
        Size of the training set (storage of the cache; it grows on demand without it).
    cache_pin_memory : bool
        Keep the cache in pinned host memory instead of on the training device (CUDA).
    **relevance_kwargs
        Passed to the relevance function.

    Examples
    --------
    >>> dropout = InputDropout(make_masker("region", alpha=0.3, beta=0.25), method="lrp")
    >>> x_masked, mask = dropout(model, points, target)
    """

    def __init__(
        self,
        masker: Masker | None = None,
        method: str = "lrp",
        relevance_fn: RelevanceFn | None = None,
        generator: torch.Generator | None = None,
        relevance_every: int = 1,
        num_samples: int | None = None,
        cache_pin_memory: bool = False,
        **relevance_kwargs: Any,
    ):
        if masker is not None and not isinstance(masker, Masker):
            raise TypeError(f"masker must be a reldrop3d.masking.Masker or None, got "
                            f"{type(masker).__name__} (build one with make_masker(mode, ...))")
        if isinstance(relevance_every, bool) or not isinstance(relevance_every, int) \
                or relevance_every < 1:
            raise ValueError(f"relevance_every (--relevance-every) must be an int >= 1, got "
                             f"{relevance_every!r}")
        self.masker, self.method = masker, method
        self.relevance_fn = relevance_fn
        self.generator = generator
        self.relevance_kwargs = relevance_kwargs
        self.relevance_every = relevance_every
        uses_relevance = masker is not None and masker.uses_relevance
        self.cache = (RelevanceCache(relevance_every, num_samples, pin_memory=cache_pin_memory)
                      if relevance_every > 1 and uses_relevance else None)
        self._warned_mismatch = False

    def explain(
        self,
        model: nn.Module,
        x: torch.Tensor,
        target: torch.Tensor,
        category: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Relevance of the true class for ``x``: (B, N) for points, (B, H, W) for images."""
        if self.relevance_fn is not None:
            return self.relevance_fn(model, x, target, category, **self.relevance_kwargs)
        # the front door dispatches on the input: points (B, N, C) or images (B, C, H, W)
        return relevance(model, x, target, method=self.method, category=category,
                         **self.relevance_kwargs)

    def __call__(
        self,
        model: nn.Module,
        points: torch.Tensor,
        target: torch.Tensor,
        category: torch.Tensor | None = None,
        *,
        index: torch.Tensor | None = None,
        epoch: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mask a batch: ``(x_masked, mask)``, or ``(points, None)`` without a masker.

        Parameters
        ----------
        model : nn.Module
        points : Tensor (B, N, C) or (B, C, H, W)
            The batch as explained (un-augmented in the official order).
        target : LongTensor (B,) or (B, N)
        category : LongTensor (B,), optional
            Part segmentation's object category.
        index : LongTensor (B,), optional
            Data-set index of each sample (``batch["index"]``); needed with a relevance cache.
        epoch : int, optional
            Current epoch; needed with a relevance cache.
        """
        if self.masker is None:
            return points, None

        def explain(idx: torch.Tensor) -> torch.Tensor:
            # only the samples chosen for masking (a share p of the batch) are explained
            cat = None if category is None else category[idx]
            return self.explain(model, points[idx], target[idx], cat)

        if self.cache is not None:
            if index is None or epoch is None:
                raise ValueError(
                    f"relevance_every={self.relevance_every} (--relevance-every) needs each "
                    f"batch's sample index (batch['index']) and the epoch; got index={index is not None}, "
                    f"epoch={epoch}")
            explain = self.cache.wrap(explain, index, points, epoch, keys=(target, category))
        out = mask_batch(self.masker, points, explain, self.generator)
        if self.cache is not None and self.cache.mismatches and not self._warned_mismatch:
            self._warned_mismatch = True
            warnings.warn(
                f"relevance cache (--relevance-every {self.relevance_every}): "
                f"{self.cache.mismatches} sample(s) came with other points than when their "
                f"relevance was cached (does the data set re-sample or reorder points on every "
                f"access?); their relevance is recomputed, so the cache cannot save time for them",
                RuntimeWarning, stacklevel=2)
        return out

    def reset_cache(self) -> None:
        """Forget every cached relevance map (at the start of training, also after a resume)."""
        if self.cache is not None:
            self.cache.clear()
            self.cache.take_counts()
            self.cache.mismatches = 0

    def sync_cache(self) -> tuple[int, int] | None:
        """Once per training step on every rank: share this step's new maps with the other DDP
        ranks; returns (served from the cache, computed) since the last call, or None without a
        cache."""
        if self.cache is None:
            return None
        self.cache.sync()
        return self.cache.take_counts()

    def __repr__(self) -> str:
        every = f", relevance_every={self.relevance_every}" if self.relevance_every > 1 else ""
        return f"InputDropout({self.masker!r}, method={self.method!r}{every})"


RULE_DEFAULTS = {"alpha": defaults.ALPHA, "beta": defaults.BETA}


def masker_from_config(cfg) -> Masker | None:
    """The masker a :class:`~reldrop3d.train.config.TrainConfig` asks for (None: no dropout).

    ``augment="reldrop"``: mode ``mask_mode`` (``point`` means ``pixel`` on images) with
    ``alpha``, ``beta`` where the mode has them, ``fill``, ``p = mask_p`` and the config's
    ``mask_kwargs`` if it has any. ``augment="random"``: PointNet++'s random point dropout
    (``dropout_max_ratio``, fill ``first``) on points, Random Erasing on images (the official 2D
    random baseline), or ``mask_mode`` when that is a mode without relevance (``random``,
    ``random_erasing``).
    """
    if cfg.augment == "none":
        return None
    images = bool(cfg.is_image_data)
    mode = cfg.mask_mode
    extra = dict(getattr(cfg, "mask_kwargs", None) or {})
    if cfg.augment == "random":
        spec = MASK_MODES.get(mode) if mode in MASK_MODES else None
        if spec is None or spec.uses_relevance:
            if not images:
                return RandomPointDropout(max_ratio=cfg.dropout_max_ratio, p=cfg.mask_p)
            mode = "random_erasing"
        if mode == "random":
            extra.setdefault("max_ratio", cfg.dropout_max_ratio)
        return make_masker(mode, fill=cfg.fill, p=cfg.mask_p, **extra)
    if cfg.augment != "reldrop":
        raise ValueError(f"unknown input dropout {cfg.augment!r}")
    if images and mode == "point":
        mode = "pixel"  # the paper's element-wise rule on pixels
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}; choose from {MASK_MODES.names()}")
    options = MASK_MODES.get(mode).options
    for name, default in RULE_DEFAULTS.items():
        value = getattr(cfg, name)
        if name in options:
            extra.setdefault(name, value)
        elif value != default:
            raise ValueError(f"mask mode {mode!r} has no {name} (got {name}={value}); its "
                             f"options: {', '.join(options) or 'none'}")
    return make_masker(mode, fill=cfg.fill, p=cfg.mask_p, **extra)
