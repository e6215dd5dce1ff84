"""One mask API for point clouds and images: ``masker(x, relevance) -> (x_masked, mask)``.

``make_masker(mode, fill=..., p=..., **mode_options)`` builds a :class:`Masker`; the modes are
registered in :data:`reldrop3d.masking.modes.MASK_MODES`, each beside its mask function with its
own keyword arguments (``MASK_MODES.get(mode).options``), and a mode accepts only those:

================== ========= ============================== ==========================================
mode               input     options                        what is dropped
================== ========= ============================== ==========================================
``point``          points    alpha, beta                    the paper's rule per point
``pixel``          images    alpha, beta                    the paper's rule per pixel
``region``         both      alpha, beta, k, radius, size,  whole neighbourhoods (images: squares)
                             truncate, backend              around spread, relevant seeds
``block``          images    k, scale, ratio, attempts      official 2D block: one Random-Erasing
                                                            rectangle at the top-relevance pixel
``patch``          images    k, scale, ratio, attempts      official 2D patch: area / k, at one of
                                                            the top-k pixels
``grid_patch``     images    alpha, beta, size              the rule on grid-patch relevance
``dropblock``      images    alpha, beta, size              DropBlock with rule-drawn centres
``random``         both      max_ratio                      PointNet++'s random dropout
``random_erasing`` images    scale, ratio, attempts         torchvision's RandomErasing
================== ========= ============================== ==========================================

Defaults: :mod:`reldrop3d.masking.defaults`. Relevance is (B, N) for points and (B, H, W) for images (None for ``random*``). Masks are
(B, N) / (B, H, W) bool, True = dropped. Only a share ``p`` of each batch is masked, drawn per
sample (``p_per="sample"``) or for the whole batch (``p_per="batch"``, the default of the
official 2D ``block`` / ``patch``); :meth:`Masker.select` draws that sub-batch first, so a
trainer explains only those samples (:func:`mask_batch`). Points, images and relevance with NaN
or inf are refused with a ValueError naming the sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import defaults, erasing, image, rules  # noqa: F401  (importing registers the modes)
from .fills import FILLS
from .image import apply_image_fill
from .modes import MASK_MODES, P_UNITS, MaskMode, get_mode
from .rules import check_finite, check_unit_interval


def _rand(n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    dev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=dev).to(device)


def _spatial(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(x.shape[1:2]) if x.dim() == 3 else tuple(x.shape[2:])


class Masker:
    """Input masking for point clouds and images: a registered mode with its options.

    Parameters
    ----------
    mode : str
        A registered mask mode (:data:`reldrop3d.masking.modes.MASK_MODES`; module docstring).
    fill : str
        What dropped elements become: ``zero``, ``mean`` (data-set mean ``fill_value``), ``first``,
        ``centroid``, ``resample`` (see :mod:`reldrop3d.masking.fills`).
    p : float in [0, 1]
        Share of each batch that is masked.
    p_per : {"sample", "batch"}, optional
        ``p`` drawn for each sample alone or for the whole batch at once; default: the mode's
        (``batch`` for the official 2D ``block`` / ``patch``, ``sample`` otherwise).
    fill_value : Tensor (C,), optional
        Data-set mean per channel, for ``fill="mean"`` (without it: the mean of the batch's kept
        elements).
    **options
        The mode's own keyword arguments (e.g. ``alpha``, ``beta`` for ``point``; ``k``,
        ``radius`` for ``region``); any other raises ValueError.

    Examples
    --------
    >>> masker = make_masker("region", alpha=0.3, beta=0.25, k=32)
    >>> x_masked, mask = masker(points, relevance)  # (B, N, C), (B, N) bool
    >>> make_masker("block", fill="mean", fill_value=mean, p=0.5)(images, pixel_relevance)
    """

    def __init__(
        self,
        mode: str = defaults.MODE,
        fill: str = defaults.FILL,
        p: float = defaults.P,
        p_per: str | None = None,
        fill_value: torch.Tensor | None = None,
        **options: Any,
    ):
        spec = get_mode(mode)
        check_unit_interval(p=p)
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; choose from {FILLS.names()}")
        if p_per is not None and p_per not in P_UNITS:
            raise ValueError(f"p_per must be one of {P_UNITS}, got {p_per!r}")
        self.spec: MaskMode = spec
        self.options: dict[str, Any] = spec.resolve(options)
        self.fill, self.p = fill, float(p)
        self.p_per = spec.p_per if p_per is None else p_per
        self.fill_value = None if fill_value is None else torch.as_tensor(fill_value).float()

    @property
    def mode(self) -> str:
        return self.spec.name

    @property
    def uses_relevance(self) -> bool:
        """False for the random baselines: no relevance needs to be computed."""
        return self.spec.uses_relevance

    def __getattr__(self, name: str):  # the mode's options read as attributes (masker.alpha)
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        raise AttributeError(f"{type(self).__name__} ({self.__dict__.get('spec')}) has no "
                             f"attribute {name!r}")

    # -- layout ---------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, relevance: torch.Tensor | None, rows: bool = True) -> None:
        """Layout of ``x`` and ``relevance`` (``rows=False``: the relevance of a sub-batch, whose
        rows are checked later)."""
        if x.dim() not in (3, 4):
            raise ValueError(f"input must be points (B, N, C) or images (B, C, H, W), got shape "
                             f"{tuple(x.shape)}")
        kind = "points" if x.dim() == 3 else "images"
        if kind not in self.spec.inputs:
            other = "images (B, C, H, W)" if kind == "points" else "point clouds (B, N, C)"
            fits = [n for n in MASK_MODES.names() if kind in MASK_MODES.get(n).inputs]
            raise ValueError(f"mode {self.mode!r} is for {other}; got {kind} {tuple(x.shape)} "
                             f"({kind} modes: {fits})")
        if relevance is None:
            if self.uses_relevance:
                raise ValueError(f"mode {self.mode!r} needs relevance")
            return
        expected = (x.shape[0], *_spatial(x))
        got = tuple(relevance.shape)
        if got != expected if rows else got[1:] != expected[1:]:
            layout = "(B, N)" if kind == "points" else "(B, H, W)"
            raise ValueError(f"relevance {tuple(relevance.shape)} does not match {kind} "
                             f"{tuple(x.shape)} (expected {layout})")

    def _check_values(self, x, relevance, index=None) -> None:
        check_finite(x, "points" if x.dim() == 3 else "images")
        if relevance is not None and self.uses_relevance:
            check_finite(relevance, "relevance", index)

    # -- the three steps ------------------------------------------------------------------
    def select(
        self, batch_size: int, generator: torch.Generator | None = None, device=None
    ) -> torch.Tensor:
        """Indices (B',) of the samples to mask, in order: each sample with probability ``p``
        (``p_per="sample"``) or the whole batch with probability ``p`` (``"batch"``)."""
        if self.p >= 1.0:
            return torch.arange(batch_size, device=device)
        if self.p_per == "batch":
            chosen = (_rand(1, generator, device) < self.p).expand(batch_size)
        else:
            chosen = _rand(batch_size, generator, device) < self.p
        return chosen.nonzero().flatten()

    def _mask(self, x, relevance, generator):
        return self.spec(x, relevance, generator, **self.options)

    def mask(
        self,
        x: torch.Tensor,
        relevance: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """BoolTensor (B, N) or (B, H, W): which elements of every sample of ``x`` to drop."""
        self._check(x, relevance)
        self._check_values(x, relevance)
        return self._mask(x, relevance, generator)

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
        relevance: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask a batch.

        Parameters
        ----------
        x : Tensor (B, N, C) or (B, C, H, W)
        relevance : Tensor (B, N) / (B, H, W), or (B', N) / (B', H, W) with ``index``
            None for modes that do not use relevance (``random``, ``random_erasing``).
        generator : torch.Generator, optional
            On ``x``'s device, for reproducible masks.
        index : LongTensor (B',), optional
            The samples to mask (from :meth:`select`); ``relevance`` then holds only those rows.
            Without it, the share ``p`` is drawn here.

        Returns
        -------
        x_masked : Tensor, same shape as ``x``
        mask : BoolTensor (B, N) or (B, H, W); all False for samples not masked.

        Raises
        ------
        ValueError
            Wrong shapes, or NaN / inf in ``x`` or ``relevance`` (naming the sample).
        """
        if not self.uses_relevance:
            relevance = None
        if index is not None and relevance is not None and relevance.shape[0] != index.shape[0]:
            raise ValueError(f"relevance has {relevance.shape[0]} rows but index selects "
                             f"{index.shape[0]} samples")
        self._check(x, relevance, rows=index is None)
        self._check_values(x, relevance, index)
        if index is None and self.p >= 1.0:  # every sample: no sub-batch copies
            mask = self._mask(x, relevance, generator)
            return self.fill_masked(x, mask, generator), mask
        if index is None:
            index = self.select(x.shape[0], generator, x.device)
            if relevance is not None:
                relevance = relevance[index]
        full = torch.zeros(x.shape[0], *_spatial(x), dtype=torch.bool, device=x.device)
        if index.numel() == 0:
            return x, full
        sub = x[index]
        if relevance is not None:
            self._check(sub, relevance)
        sub_mask = self._mask(sub, relevance, generator)
        x_masked = x.clone()
        x_masked[index] = self.fill_masked(sub, sub_mask, generator)
        full[index] = sub_mask
        return x_masked, full

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"{type(self).__name__}(mode={self.mode!r}, fill={self.fill!r}, p={self.p}, "
                f"p_per={self.p_per!r}{opts})")


def make_masker(mode: str = defaults.MODE, **kwargs: Any) -> Masker:
    """Build a :class:`Masker`: ``fill``, ``p``, ``p_per``, ``fill_value`` and the mode's own
    keyword arguments (``MASK_MODES.get(mode).options``); anything else raises ValueError."""
    return Masker(mode, **kwargs)


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
        ``explain(index)`` returns the relevance of ``x[index]``: (B', N) or (B', H, W). Not
        called for modes without relevance (``random``, ``random_erasing``).
    generator : torch.Generator, optional

    Returns
    -------
    x_masked, mask : as :meth:`Masker.__call__`

    Examples
    --------
    >>> x_masked, mask = mask_batch(
    ...     masker, points, lambda i: relevance(model, points[i], target[i], method="lrp"))
    """
    if not masker.uses_relevance:
        return masker(x, None, generator)
    index = masker.select(x.shape[0], generator, x.device)
    if masker.p >= 1.0:  # the whole batch, in order
        return masker(x, explain(index), generator)
    if index.numel() == 0:
        return x, torch.zeros(x.shape[0], *_spatial(x), dtype=torch.bool, device=x.device)
    return masker(x, explain(index), generator, index=index)
