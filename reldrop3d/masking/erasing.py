"""Random-Erasing rectangles: the official 2D RelDrop ``block`` / ``patch`` and the random baseline.

The official 2D code (``2D_Images/run_scripts/relevance_augmentations.py`` with the numbers of
``training_config.json``) erases **one rectangle per image**, drawn as in Random Erasing (Zhong
et al.):

1. area ``A = U(sl, sh) * H * W / d`` (``sl, sh = 0.02, 0.4``; ``d = 1`` for ``block``, ``k``
   for ``patch``), aspect ratio ``r = exp(U(log r1, log 1/r1))`` (log-uniform, ``r1 = 0.3``),
   ``h = round(sqrt(A r))``, ``w = round(sqrt(A / r))``; the draw is kept if ``0 < h < H`` and
   ``0 < w < W``, else redrawn (100 draws; for ``patch`` ``k`` rounds of 100); no fit: nothing
   erased;
2. centre: one of the ``k`` pixels of largest raw relevance (``block``: ``k = 1``, the top pixel;
   ``patch``: ``k = 5``, one of the top 5 chosen uniformly, and the area divided by 5);
3. rows ``[round(cy - h/2), round(cy - h/2) + h)``, columns likewise (Python's ``round``: halves
   to even), **clipped** at the image border (the rectangle shrinks, it is not shifted);
4. the rectangle is filled with the data-set mean per channel (here: ``fill="mean"`` with
   ``fill_value``), and the whole batch is erased with probability ``p`` (``p_per="batch"``).

``random_erasing`` is the random baseline with torchvision's ``RandomErasing`` semantics (the
same draw of area and log-uniform ratio, ``h < H`` and ``w < W``, then a position uniform over
the places where the rectangle fits, per image with probability ``p``); its defaults are the
official code's numbers (scale ``(0.02, 0.4)``, ratio ``(0.3, 1/0.3)``, 100 draws), torchvision's
own are ``scale=(0.02, 0.33), ratio=(0.3, 3.3), attempts=10``.

Everything is vectorised over the batch: the ``attempts`` draws of every image are made at once
and the first that fits is taken (the same distribution as drawing them one after the other).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from . import defaults
from .modes import register_mode


class ErasingBoxes(NamedTuple):
    """One rectangle per image, before clipping at the border (all LongTensor (B,) but
    ``found``: BoolTensor (B,), False where no draw fitted and nothing is erased)."""

    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    found: torch.Tensor


def check_erasing(scale, ratio, attempts, k: int | None = None) -> None:
    """Raise ValueError for an impossible area range, ratio range, number of draws or ``k``."""
    try:
        lo, hi = (float(v) for v in scale)
        rlo, rhi = (float(v) for v in ratio)
    except (TypeError, ValueError):
        raise ValueError(
            f"scale and ratio must be pairs (low, high), got {scale!r}, {ratio!r}") from None
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"scale (erased share of the image) must satisfy 0 < low <= high <= 1, "
                         f"got {scale!r}")
    if not 0.0 < rlo <= rhi < math.inf:
        raise ValueError(f"ratio (aspect h / w) must satisfy 0 < low <= high, got {ratio!r}")
    for name, v in (("attempts", attempts), ("k", k)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def erasing_sizes(
    batch: int,
    height: int,
    width: int,
    scale=defaults.ERASE_SCALE,
    ratio=defaults.ERASE_RATIO,
    attempts: int = defaults.ERASE_ATTEMPTS,
    area_divisor: int = 1,
    generator: torch.Generator | None = None,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random-Erasing rectangle sizes, one per image.

    Parameters
    ----------
    batch, height, width : int
    scale : (low, high)
        Area share of the image, drawn uniformly (then divided by ``area_divisor``).
    ratio : (low, high)
        Aspect ratio ``h / w``, drawn log-uniformly.
    attempts : int
        Draws per image; the first with ``0 < h < height`` and ``0 < w < width`` is taken.
    generator : torch.Generator, optional
        On ``device``.

    Returns
    -------
    h, w : LongTensor (B,)
    found : BoolTensor (B,)
        False where none of the draws fitted (``h``, ``w`` are then 0).
    """
    check_erasing(scale, ratio, attempts)
    shape = (batch, attempts)
    kw = dict(generator=generator, device=device, dtype=torch.float64)
    area = (scale[0] + (scale[1] - scale[0]) * torch.rand(shape, **kw)) * (height * width)
    area = area / area_divisor
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(shape, **kw))
    h = torch.round(torch.sqrt(area * aspect)).long()  # round half to even, as Python's round
    w = torch.round(torch.sqrt(area / aspect)).long()
    fits = (h > 0) & (w > 0) & (h < height) & (w < width)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first draw that fits
    found = fits.any(dim=1)
    h = h.gather(1, first).squeeze(1).masked_fill(~found, 0)
    w = w.gather(1, first).squeeze(1).masked_fill(~found, 0)
    return h, w, found


def relevance_erasing_boxes(
    relevance: torch.Tensor,
    k: int = defaults.BLOCK_K,
    scale=defaults.ERASE_SCALE,
    ratio=defaults.ERASE_RATIO,
    attempts: int = defaults.ERASE_ATTEMPTS,
    area_divisor: int = 1,
    generator: torch.Generator | None = None,
) -> ErasingBoxes:
    """One rectangle per image centred on one of its ``k`` most relevant pixels (unclipped).

    Parameters
    ----------
    relevance : Tensor (B, H, W)
        Raw relevance (not normalised); the ``k`` largest values are the candidate centres.
    k : int
        Candidates; the centre is one of them, uniformly (``min(k, H*W)``).
    scale, ratio, attempts, area_divisor : see :func:`erasing_sizes`
    generator : torch.Generator, optional
        On the relevance's device.

    Returns
    -------
    ErasingBoxes
        ``top = round(cy - h / 2)``, ``left = round(cx - w / 2)`` (halves to even), which may lie
        outside the image; :func:`boxes_to_mask` clips.
    """
    if relevance.dim() != 3:
        raise ValueError(f"image relevance must be (B, H, W), got shape {tuple(relevance.shape)}")
    check_erasing(scale, ratio, attempts, k)
    b, height, width = relevance.shape
    dev = relevance.device
    h, w, found = erasing_sizes(b, height, width, scale, ratio, attempts, area_divisor,
                                generator, dev)
    k = min(k, height * width)
    top_k = relevance.reshape(b, -1).topk(k, dim=1).indices  # (B, k), most relevant first
    pick = (torch.rand(b, generator=generator, device=dev) * k).long().clamp_(max=k - 1)
    centre = top_k.gather(1, pick.unsqueeze(1)).squeeze(1)
    cy, cx = centre // width, centre % width
    top = torch.round(cy.double() - h.double() / 2).long()
    left = torch.round(cx.double() - w.double() / 2).long()
    return ErasingBoxes(top, left, h, w, found)


def random_erasing_boxes(
    batch: int,
    height: int,
    width: int,
    scale=defaults.ERASE_SCALE,
    ratio=defaults.ERASE_RATIO,
    attempts: int = defaults.ERASE_ATTEMPTS,
    generator: torch.Generator | None = None,
    device=None,
) -> ErasingBoxes:
    """Random Erasing (torchvision / Zhong et al.): sizes as :func:`erasing_sizes`, the top-left
    corner uniform over ``[0, H - h] x [0, W - w]`` (the rectangle always lies inside)."""
    h, w, found = erasing_sizes(batch, height, width, scale, ratio, attempts, 1, generator,
                                device)
    u = torch.rand(2, batch, generator=generator, device=device, dtype=torch.float64)
    top = (u[0] * (height - h + 1)).long().minimum(height - h)
    left = (u[1] * (width - w + 1)).long().minimum(width - w)
    return ErasingBoxes(top, left, h, w, found)


def boxes_to_mask(boxes: ErasingBoxes, height: int, width: int) -> torch.Tensor:
    """BoolTensor (B, H, W): the rectangles, clipped at the image border; empty where not found."""
    top = boxes.top.clamp(min=0)
    left = boxes.left.clamp(min=0)
    bottom = (boxes.top + boxes.height).clamp(max=height)
    right = (boxes.left + boxes.width).clamp(max=width)
    dev = boxes.top.device
    rows = torch.arange(height, device=dev).view(1, height, 1)
    cols = torch.arange(width, device=dev).view(1, 1, width)
    inside_rows = (rows >= top.view(-1, 1, 1)) & (rows < bottom.view(-1, 1, 1))
    inside_cols = (cols >= left.view(-1, 1, 1)) & (cols < right.view(-1, 1, 1))
    return inside_rows & inside_cols & boxes.found.view(-1, 1, 1)


def relevance_erasing_mask(
    relevance: torch.Tensor,
    k: int = defaults.BLOCK_K,
    scale=defaults.ERASE_SCALE,
    ratio=defaults.ERASE_RATIO,
    attempts: int = defaults.ERASE_ATTEMPTS,
    area_divisor: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The official 2D RelDrop rectangle (module docstring): (B, H, W) -> BoolTensor (B, H, W)."""
    boxes = relevance_erasing_boxes(relevance, k, scale, ratio, attempts, area_divisor, generator)
    return boxes_to_mask(boxes, *relevance.shape[1:])


def _check_block(k, scale, ratio, attempts):
    if attempts is None:
        raise ValueError("attempts must be a positive int, got None")
    check_erasing(scale, ratio, attempts, k)


def _check_patch(k, scale, ratio, attempts):
    check_erasing(scale, ratio, attempts, k)


def _check_random_erasing(scale, ratio, attempts):
    _check_block(1, scale, ratio, attempts)


@register_mode("block", inputs=("images",), p_per="batch", check=_check_block,
               k=defaults.BLOCK_K, scale=defaults.ERASE_SCALE, ratio=defaults.ERASE_RATIO,
               attempts=defaults.ERASE_ATTEMPTS)
def block_mode(x, relevance, generator=None, *, k, scale, ratio, attempts):
    """the official 2D block: one Random-Erasing rectangle centred on one of the top-``k``
    (default 1) raw-relevance pixels"""
    return relevance_erasing_mask(relevance, k, scale, ratio, attempts, 1, generator)


@register_mode("patch", inputs=("images",), p_per="batch", check=_check_patch,
               k=defaults.PATCH_K, scale=defaults.ERASE_SCALE, ratio=defaults.ERASE_RATIO,
               attempts=None)
def patch_mode(x, relevance, generator=None, *, k, scale, ratio, attempts):
    """the official 2D patch: one rectangle of area / ``k`` (default 5) centred on one of the
    top-``k`` raw-relevance pixels (``attempts`` default: ``k`` rounds of 100 draws)"""
    attempts = defaults.ERASE_ATTEMPTS * k if attempts is None else attempts
    return relevance_erasing_mask(relevance, k, scale, ratio, attempts, k, generator)


@register_mode("random_erasing", inputs=("images",), uses_relevance=False,
               check=_check_random_erasing,
               scale=defaults.ERASE_SCALE, ratio=defaults.ERASE_RATIO,
               attempts=defaults.ERASE_ATTEMPTS)
def random_erasing_mode(x, relevance=None, generator=None, *, scale, ratio, attempts):
    """Random Erasing (torchvision's ``RandomErasing``): one rectangle per image at a uniform
    position; the 2D random baseline"""
    b, _, height, width = x.shape
    boxes = random_erasing_boxes(b, height, width, scale, ratio, attempts, generator, x.device)
    return boxes_to_mask(boxes, height, width)
