"""Input dropout applied inside a training step: a :class:`~reldrop3d.masking.Masker` and,
if its mode uses relevance, how to explain the batch.

RelDrop explains the current model on the clean batch (in eval mode, so BatchNorm statistics and
dropout are untouched) and masks the most relevant points; the training forward pass that follows
runs in train mode on the masked batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..explain import relevance
from ..masking import MASK_MODES, Masker, RandomPointDropout, defaults, make_masker, mask_batch

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
        **relevance_kwargs: Any,
    ):
        if masker is not None and not isinstance(masker, Masker):
            raise TypeError(f"masker must be a reldrop3d.masking.Masker or None, got "
                            f"{type(masker).__name__} (build one with make_masker(mode, ...))")
        self.masker, self.method = masker, method
        self.relevance_fn = relevance_fn
        self.generator = generator
        self.relevance_kwargs = relevance_kwargs

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
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.masker is None:
            return points, None

        def explain(idx: torch.Tensor) -> torch.Tensor:
            # only the samples chosen for masking (a share p of the batch) are explained
            cat = None if category is None else category[idx]
            return self.explain(model, points[idx], target[idx], cat)

        return mask_batch(self.masker, points, explain, self.generator)

    def __repr__(self) -> str:
        return f"InputDropout({self.masker!r}, method={self.method!r})"


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
