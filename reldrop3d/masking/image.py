"""RelDrop variants of ours on images: masks (B, H, W) from pixel relevance (B, H, W), fills on
(B, C, H, W). The official 2D ``block`` / ``patch`` (one Random-Erasing rectangle at the top
relevance) live in :mod:`.erasing`, the paper's per-pixel rule (``pixel``) in :mod:`.rules`.

============== ===================================================================================
``grid_patch``  the image is cut into a grid of ``size x size`` patches; the rule is applied to
                the mean relevance of each patch and whole patches are dropped
``dropblock``   DropBlock with relevance-drawn centres: the rule, applied to the mean relevance of
                the ``size x size`` block centred at each pixel, selects candidate centres; each
                candidate becomes a centre with probability ``1 / size**2`` (DropBlock's
                thinning), and every centre's block is dropped. The dropped area is then close to
                the pixel rule's (``1 - exp(-rate)`` for independent centres, less where blocks
                overlap), but in contiguous blocks around the relevant areas.
``region``      spatially balanced: square ``size x size`` neighbourhoods around spread seeds,
                until ``round(beta * H * W)`` pixels are covered (:func:`.region.greedy_regions`);
                on points kNN / ball neighbourhoods (:func:`.region.region_point_mask`)
============== ===================================================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import defaults
from .fills import FILLS
from .modes import register_mode
from .region import budget_size, check_region_parameters, greedy_regions, region_point_mask
from .rules import check_rule, check_unit_interval, reldrop_mask, rule_score


def check_image_relevance(images: torch.Tensor | None, relevance: torch.Tensor) -> None:
    """Raise ValueError unless ``relevance`` is (B, H, W) and matches ``images`` (B, C, H, W)."""
    if relevance.dim() != 3:
        raise ValueError(f"image relevance must be (B, H, W), got shape {tuple(relevance.shape)}")
    if images is not None:
        if images.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
        if relevance.shape != (images.shape[0], *images.shape[2:]):
            raise ValueError(f"relevance {tuple(relevance.shape)} does not match images "
                             f"{tuple(images.shape)} (expected (B, H, W))")


def check_size(size: int) -> None:
    """Raise ValueError unless ``size`` (a side in pixels) is a positive int."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size (block/patch/region side in pixels) must be a positive int, "
                         f"got {size!r}")


def pixel_mask(
    relevance: torch.Tensor,
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    generator=None,
) -> torch.Tensor:
    """The paper's rule per pixel. ``relevance`` (B, H, W) -> BoolTensor (B, H, W)."""
    check_image_relevance(None, relevance)
    return reldrop_mask(relevance, alpha, beta, generator)


def grid_patch_mask(
    relevance: torch.Tensor,
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    size: int = defaults.GRID_PATCH_SIZE,
    generator=None,
) -> torch.Tensor:
    """The rule on the mean relevance of a grid of ``size x size`` patches; whole patches dropped.

    Parameters
    ----------
    relevance : Tensor (B, H, W)
        Patches at the right and bottom border are cut to the image.

    Returns
    -------
    BoolTensor (B, H, W)
    """
    check_image_relevance(None, relevance)
    check_size(size)
    h, w = relevance.shape[1:]
    pooled = F.avg_pool2d(relevance.unsqueeze(1).float(), size, stride=size, ceil_mode=True)
    drop = reldrop_mask(pooled.squeeze(1), alpha, beta, generator)
    return drop.repeat_interleave(size, dim=1).repeat_interleave(size, dim=2)[:, :h, :w]


def _centred_pool(x: torch.Tensor, size: int, op) -> torch.Tensor:
    """``op`` over the ``size x size`` window centred at every pixel; (B, H, W) -> (B, H, W)."""
    h, w = x.shape[1:]
    out = op(x.unsqueeze(1), size, stride=1, padding=size // 2)
    return out.squeeze(1)[:, :h, :w]


def dropblock_mask(
    relevance: torch.Tensor,
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    size: int = defaults.DROPBLOCK_SIZE,
    generator=None,
) -> torch.Tensor:
    """DropBlock with centres drawn by the RelDrop rule on block relevance (module docstring).

    Parameters
    ----------
    relevance : Tensor (B, H, W)
    size : int
        Block side; blocks are cut at the border.

    Returns
    -------
    BoolTensor (B, H, W)
    """
    check_image_relevance(None, relevance)
    check_unit_interval(alpha=alpha, beta=beta)
    check_size(size)
    block_rel = _centred_pool(
        relevance.float(), size,
        lambda t, k, stride, padding: F.avg_pool2d(t, k, stride, padding, count_include_pad=False),
    )
    candidates = reldrop_mask(block_rel, alpha, beta, generator)
    thin = torch.rand(candidates.shape, generator=generator, device=candidates.device)
    centres = candidates & (thin < 1.0 / size**2)
    return _centred_pool(centres.float(), size, F.max_pool2d) > 0


def square_neighbourhood(height: int, width: int, size: int, device=None):
    """Neighbourhood function for :func:`greedy_regions` on an ``height x width`` pixel grid:
    the ``size x size`` square around the seed (cut at the border), ordered by Chebyshev
    distance."""
    rows = torch.arange(height, device=device).repeat_interleave(width).unsqueeze(0)
    cols = torch.arange(width, device=device).repeat(height).unsqueeze(0)
    lo = size // 2
    hi = size - lo  # window [seed - lo, seed + hi)

    def neighbourhood(seed: torch.Tensor):
        dr = rows - (seed // width).unsqueeze(1)
        dc = cols - (seed % width).unsqueeze(1)
        member = (dr >= -lo) & (dr < hi) & (dc >= -lo) & (dc < hi)
        order = torch.maximum(dr.abs(), dc.abs()).float() / (lo + hi + 1)
        return member, order

    return neighbourhood


def region_image_mask(
    relevance: torch.Tensor,
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    size: int = defaults.REGION_SIZE,
    truncate: bool = False,
    generator=None,
    return_seeds: bool = False,
):
    """Spatially balanced RelDrop on images: squares around spread, relevant seeds.

    Parameters
    ----------
    relevance : Tensor (B, H, W)
    alpha, beta : float in [0, 1]
    size : int
        Square side in pixels.
    truncate : bool
        Exact budget ``round(beta * H * W)`` instead of whole squares closest to it.
    generator : torch.Generator, optional
    return_seeds : bool
        Also return the seeds as flat pixel indices (B, S), -1 padded.

    Returns
    -------
    mask : BoolTensor (B, H, W)
    """
    check_image_relevance(None, relevance)
    check_size(size)
    b, h, w = relevance.shape
    score = rule_score(relevance, alpha, generator).reshape(b, h * w)
    neighbourhood = square_neighbourhood(h, w, size, relevance.device)
    mask, seeds = greedy_regions(score, neighbourhood, budget_size(h * w, beta), truncate)
    mask = mask.view(b, h, w)
    return (mask, seeds) if return_seeds else mask


def apply_image_fill(
    images: torch.Tensor, mask: torch.Tensor, fill: str, **options
) -> torch.Tensor:
    """Fill the masked pixels of ``images`` (B, C, H, W) given ``mask`` (B, H, W).

    Every point fill works on images through the channels-last view (B, H*W, C): ``zero``,
    ``mean`` (data-set mean per channel, ``mean=Tensor (C,)``), ``first`` (pixel (0, 0)),
    ``centroid`` (mean of the kept pixels), ``resample`` (random kept pixels).

    Returns
    -------
    Tensor (B, C, H, W)
    """
    check_image_relevance(images, mask)
    b, c, h, w = images.shape
    flat = images.permute(0, 2, 3, 1).reshape(b, h * w, c)
    filled = FILLS.get(fill)(flat, mask.reshape(b, h * w), **options)
    return filled.view(b, h, w, c).permute(0, 3, 1, 2).contiguous()


def _check_rule_and_size(alpha, beta, size):
    check_rule(alpha, beta)
    check_size(size)


@register_mode("grid_patch", inputs=("images",), check=_check_rule_and_size,
               alpha=defaults.ALPHA, beta=defaults.BETA, size=defaults.GRID_PATCH_SIZE)
def grid_patch_mode(x, relevance, generator=None, *, alpha, beta, size):
    """the rule on the mean relevance of a ``size x size`` grid of patches; whole patches dropped"""
    return grid_patch_mask(relevance, alpha, beta, size, generator)


@register_mode("dropblock", inputs=("images",), check=_check_rule_and_size,
               alpha=defaults.ALPHA, beta=defaults.BETA, size=defaults.DROPBLOCK_SIZE)
def dropblock_mode(x, relevance, generator=None, *, alpha, beta, size):
    """DropBlock with centres drawn by the rule on block relevance (``size x size`` blocks)"""
    return dropblock_mask(relevance, alpha, beta, size, generator)


def _check_region(alpha, beta, k, radius, size, truncate, backend):
    check_rule(alpha, beta)
    check_region_parameters(k, radius)
    check_size(size)
    if backend not in ("step", "auto", "torch", "cluster"):
        raise ValueError(f"backend must be step, auto, torch or cluster, got {backend!r}")


@register_mode("region", inputs=("points", "images"), check=_check_region,
               alpha=defaults.ALPHA, beta=defaults.BETA, k=defaults.REGION_K, radius=None,
               size=defaults.REGION_SIZE, truncate=False, backend="step")
def region_mode(x, relevance, generator=None, *, alpha, beta, k, radius, size, truncate,
                backend):
    """spatially balanced RelDrop: whole kNN (``k``) / ball (``radius``) neighbourhoods, on images
    ``size x size`` squares, around spread, relevant seeds until ``round(beta*N)`` are covered"""
    if x.dim() == 4:
        return region_image_mask(relevance, alpha, beta, size, bool(truncate), generator)
    return region_point_mask(x, relevance, alpha, beta, k, radius, bool(truncate), generator,
                             backend=backend)
