"""Region-of-interest masks (True = region of interest) and the energy pointing game.

Point clouds: ``(B, N)`` bool; images: ``(B, H, W)`` bool.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

import torch


def roi_from_batch(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The object-vs-clutter mask ``batch["roi"]`` (B, N) of a collated batch.

    Raises
    ------
    KeyError
        The batch has no ``roi`` (e.g. ``synthetic`` without ``clutter``): name the parts to keep
        with :func:`roi_from_parts` instead.
    """
    if "roi" not in batch:
        raise KeyError(
            "batch has no 'roi' mask: build the data set with clutter (synthetic: clutter="
            "'biased'|'shuffled'|'random') or derive one from part labels with roi_from_parts"
        )
    return batch["roi"].bool()


def roi_from_parts(parts: torch.Tensor, keep: Iterable[int]) -> torch.Tensor:
    """ROI from per-point part labels: True where the part id is in ``keep``.

    Parameters
    ----------
    parts : LongTensor (B, N) or (N,)
        Global part ids (ShapeNetPart / ``synthetic``).
    keep : iterable of int
        Part ids of the region of interest.

    Returns
    -------
    BoolTensor, same shape as ``parts``.
    """
    ids = torch.as_tensor(sorted(set(int(k) for k in keep)), dtype=parts.dtype, device=parts.device)
    if ids.numel() == 0:
        raise ValueError("roi_from_parts: no part ids given")
    return torch.isin(parts, ids)


def part_ids(part_names: Sequence[str], patterns: Iterable[str]) -> list[int]:
    """Global part ids whose ``"class/part"`` name matches any shell pattern, e.g.
    ``["chair/seat", "table/*"]``; raises if a pattern matches nothing."""
    ids = []
    for pat in patterns:
        hits = [i for i, name in enumerate(part_names) if fnmatch.fnmatchcase(name, pat)]
        if not hits:
            raise ValueError(f"part pattern {pat!r} matches none of {len(part_names)} part names")
        ids += hits
    return sorted(set(ids))


def box_roi(shape: tuple[int, int, int], boxes: torch.Tensor) -> torch.Tensor:
    """Pixel ROI (B, H, W) from one box per image.

    Parameters
    ----------
    shape : (B, H, W)
    boxes : LongTensor (B, 4)
        ``(top, left, bottom, right)``, bottom/right exclusive.
    """
    b, h, w = shape
    if boxes.shape != (b, 4):
        raise ValueError(f"boxes must be (B, 4) = ({b}, 4), got {tuple(boxes.shape)}")
    rows = torch.arange(h, device=boxes.device).view(1, h, 1)
    cols = torch.arange(w, device=boxes.device).view(1, 1, w)
    t, l, btm, r = (boxes[:, i].view(b, 1, 1) for i in range(4))
    return (rows >= t) & (rows < btm) & (cols >= l) & (cols < r)


def energy_pointing_game(relevance: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
    """Share of the positive relevance that lies inside the ROI, per sample.

    Parameters
    ----------
    relevance : Tensor (B, N) or (B, H, W)
    roi : BoolTensor, same shape

    Returns
    -------
    Tensor (B,) in [0, 1]; NaN for samples without positive relevance.
    """
    if relevance.shape != roi.shape:
        raise ValueError(f"relevance {tuple(relevance.shape)} and roi {tuple(roi.shape)} differ")
    pos = relevance.flatten(1).clamp(min=0)
    total = pos.sum(1)
    inside = (pos * roi.flatten(1)).sum(1)
    return torch.where(total > 0, inside / total.clamp(min=1e-30), torch.nan)
