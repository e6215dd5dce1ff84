"""One mask API for point clouds and images: ``masker(x, relevance) -> (x_masked, mask)``.

``make_masker(mode, alpha, beta, fill, p, ...)`` builds a :class:`Masker`:

=========== ======================= ==========================================================
mode        input                   what is dropped
=========== ======================= ==========================================================
``point``    points (B, N, C)        the paper's rule per point (as :class:`RelDrop`)
``region``   points (B, N, C)        whole kNN / ball neighbourhoods of spread, relevant seeds
             or images (B, C, H, W)  (images: ``size x size`` squares), see :mod:`.region`
``pixel``    images                  the paper's rule per pixel
``patch``    images                  grid patches, the rule on patch relevance
``block``    images                  relevance-drawn DropBlock blocks
=========== ======================= ==========================================================

Relevance is (B, N) for points and (B, H, W) for images. Masks are (B, N) / (B, H, W) bool,
True = dropped. Only a share ``p`` of each batch is masked; :meth:`Masker.select` draws that
sub-batch first, so a trainer explains only those samples (:func:`mask_batch`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .fills import FILLS
from .image import (
    IMAGE_MODES,
    apply_image_fill,
    block_mask,
    patch_mask,
    region_image_mask,
)
from .region import check_region_parameters, region_point_mask
from .rules import check_unit_interval, reldrop_mask

POINT_MODES = ("point", "region")
MODES = ("point", "region", "pixel", "patch", "block")


def _rand(n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    dev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=dev).to(device)


class Masker:
    """Relevance-driven input masking for point clouds and images.

    Parameters
    ----------
    mode : {"point", "region", "pixel", "patch", "block"}
        See the module docstring. ``region`` works on both input types.
    alpha : float in [0, 1]
        Randomness of the rule (seed choice for ``region``).
    beta : float in [0, 1]
        Aggressiveness; for ``region`` the share of elements dropped.
    fill : str
        What dropped elements become: ``zero``, ``mean`` (needs ``fill_value``), ``first``,
        ``centroid``, ``resample`` (see :mod:`reldrop3d.masking.fills`).
    p : float in [0, 1]
        Each sample of a batch is masked with probability ``p``.
    k : int
        ``region`` on points: kNN size (with ``radius``: at most ``k`` points per ball).
    radius : float, optional
        ``region`` on points: ball neighbourhoods of this radius instead of kNN.
    size : int
        Image modes: block / patch / square side in pixels.
    truncate : bool
        ``region``: drop exactly ``round(beta * N)`` elements (default: whole neighbourhoods,
        the count closest to that).
    fill_value : Tensor (C,), optional
        Data-set mean per channel, for ``fill="mean"`` (without it: the mean of the batch's
        kept elements).

    Examples
    --------
    >>> masker = make_masker("region", alpha=0.3, beta=0.25, k=32)
    >>> x_masked, mask = masker(points, relevance)  # (B, N, C), (B, N) bool
    """

    def __init__(
        self,
        mode: str = "point",
        alpha: float = 0.5,
        beta: float = 0.5,
        fill: str = "zero",
        p: float = 1.0,
        k: int = 32,
        radius: float | None = None,
        size: int = 3,
        truncate: bool = False,
        fill_value: torch.Tensor | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown mask mode {mode!r}; choose from {MODES}")
        check_unit_interval(alpha=alpha, beta=beta, p=p)
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; choose from {FILLS.names()}")
        check_region_parameters(k, radius)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        self.mode, self.fill = mode, fill
        self.alpha, self.beta, self.p = float(alpha), float(beta), float(p)
        self.k, self.radius, self.size, self.truncate = k, radius, size, bool(truncate)
        self.fill_value = None if fill_value is None else torch.as_tensor(fill_value).float()

    # -- layout ---------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, relevance: torch.Tensor) -> None:
        if x.dim() == 3:
            if self.mode not in POINT_MODES:
                raise ValueError(f"mode {self.mode!r} is for images (B, C, H, W); got points "
                                 f"{tuple(x.shape)} (point modes: {POINT_MODES})")
            if relevance.shape != x.shape[:2]:
                raise ValueError(f"relevance {tuple(relevance.shape)} does not match points "
                                 f"{tuple(x.shape)} (expected (B, N))")
        elif x.dim() == 4:
            if self.mode not in IMAGE_MODES:
                raise ValueError(f"mode {self.mode!r} is for point clouds (B, N, C); got images "
                                 f"{tuple(x.shape)} (image modes: {IMAGE_MODES})")
            if relevance.shape != (x.shape[0], *x.shape[2:]):
                raise ValueError(f"relevance {tuple(relevance.shape)} does not match images "
                                 f"{tuple(x.shape)} (expected (B, H, W))")
        else:
            raise ValueError(f"input must be points (B, N, C) or images (B, C, H, W), got shape "
                             f"{tuple(x.shape)}")

    # -- the three steps ------------------------------------------------------------------
    def select(
        self, batch_size: int, generator: torch.Generator | None = None, device=None
    ) -> torch.Tensor:
        """Indices (B',) of the samples to mask: each with probability ``p``, in order."""
        if self.p >= 1.0:
            return torch.arange(batch_size, device=device)
        chosen = _rand(batch_size, generator, device) < self.p
        return chosen.nonzero().flatten()

    def mask(
        self, x: torch.Tensor, relevance: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """BoolTensor (B, N) or (B, H, W): which elements of every sample of ``x`` to drop."""
        self._check(x, relevance)
        a, b = self.alpha, self.beta
        if self.mode == "point" or self.mode == "pixel":
            return reldrop_mask(relevance, a, b, generator)
        if self.mode == "region" and x.dim() == 3:
            return region_point_mask(x, relevance, a, b, self.k, self.radius, self.truncate,
                                     generator)
        if self.mode == "region":
            return region_image_mask(relevance, a, b, self.size, self.truncate, generator)
        if self.mode == "patch":
            return patch_mask(relevance, a, b, self.size, generator)
        return block_mask(relevance, a, b, self.size, generator)

    def fill_masked(
        self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``x`` with the masked elements replaced according to ``fill``; same shape as ``x``."""
        options = {}
        if self.fill == "mean" and self.fill_value is not None:
            options["mean"] = self.fill_value.to(x.device)
        elif self.fill == "resample":
            options["generator"] = generator
        if x.dim() == 4:
            return apply_image_fill(x, mask, self.fill, **options)
        return FILLS.get(self.fill)(x, mask, **options)

    def __call__(
        self,
        x: torch.Tensor,
        relevance: torch.Tensor,
        generator: torch.Generator | None = None,
        index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask a batch.

        Parameters
        ----------
        x : Tensor (B, N, C) or (B, C, H, W)
        relevance : Tensor (B, N) / (B, H, W), or (B', N) / (B', H, W) with ``index``
        generator : torch.Generator, optional
            On ``x``'s device, for reproducible masks.
        index : LongTensor (B',), optional
            The samples to mask (from :meth:`select`); ``relevance`` then holds only those rows.
            Without it, the share ``p`` is drawn here.

        Returns
        -------
        x_masked : Tensor, same shape as ``x``
        mask : BoolTensor (B, N) or (B, H, W); all False for samples not masked.
        """
        if index is None and self.p >= 1.0:  # every sample: no sub-batch copies
            mask = self.mask(x, relevance, generator)
            return self.fill_masked(x, mask, generator), mask
        if index is None:
            index = self.select(x.shape[0], generator, x.device)
            if self.p < 1.0:
                relevance = relevance[index]
        elif relevance.shape[0] != index.shape[0]:
            raise ValueError(f"relevance has {relevance.shape[0]} rows but index selects "
                             f"{index.shape[0]} samples")
        spatial = x.shape[1:2] if x.dim() == 3 else x.shape[2:]
        full = torch.zeros(x.shape[0], *spatial, dtype=torch.bool, device=x.device)
        if index.numel() == 0:
            return x, full
        sub = x[index]
        sub_mask = self.mask(sub, relevance, generator)
        x_masked = x.clone()
        x_masked[index] = self.fill_masked(sub, sub_mask, generator)
        full[index] = sub_mask
        return x_masked, full

    def __repr__(self) -> str:
        extra = (f", k={self.k}, radius={self.radius}" if self.mode in POINT_MODES else "") + (
            f", size={self.size}" if self.mode != "point" else "")
        return (f"Masker(mode={self.mode!r}, alpha={self.alpha}, beta={self.beta}, "
                f"fill={self.fill!r}, p={self.p}{extra})")


def make_masker(
    mode: str = "point",
    alpha: float = 0.5,
    beta: float = 0.5,
    fill: str = "zero",
    p: float = 1.0,
    **options,
) -> Masker:
    """Build a :class:`Masker` (all keyword options of :class:`Masker` are accepted)."""
    return Masker(mode=mode, alpha=alpha, beta=beta, fill=fill, p=p, **options)


def mask_batch(
    masker: Masker,
    x: torch.Tensor,
    explain: Callable[[torch.Tensor], torch.Tensor],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask a share ``p`` of a batch, explaining only those samples.

    Parameters
    ----------
    masker : Masker
    x : Tensor (B, N, C) or (B, C, H, W)
    explain : callable
        ``explain(index)`` returns the relevance of ``x[index]``: (B', N) or (B', H, W).
    generator : torch.Generator, optional

    Returns
    -------
    x_masked, mask : as :meth:`Masker.__call__`

    Examples
    --------
    >>> x_masked, mask = mask_batch(
    ...     masker, points, lambda i: relevance(model, points[i], target[i], method="lrp"))
    """
    index = masker.select(x.shape[0], generator, x.device)
    if masker.p >= 1.0:  # the whole batch, in order
        return masker(x, explain(index), generator)
    if index.numel() == 0:
        spatial = x.shape[1:2] if x.dim() == 3 else x.shape[2:]
        return x, torch.zeros(x.shape[0], *spatial, dtype=torch.bool, device=x.device)
    return masker(x, explain(index), generator, index=index)
