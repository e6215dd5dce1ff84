"""What a dropped point becomes. The batch keeps its shape (B, N, C).

========== ==================================================================================
``zero``    all channels 0 (the RelDrop paper)
``first``   a copy of point 0 of the same sample (PointNet++'s random-dropout convention; the
            copy is taken from the unmasked cloud, even when point 0 itself is dropped)
``centroid`` the mean of the sample's kept points
========== ==================================================================================
"""

from __future__ import annotations

import torch

from ..utils.registry import Registry

FILLS = Registry("fill")


@FILLS.register("zero")
def fill_zero(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dropped points -> 0. ``points`` (B, N, C), ``mask`` (B, N) bool; returns (B, N, C)."""
    return points.masked_fill(mask.unsqueeze(-1), 0.0)


@FILLS.register("first")
def fill_first(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dropped points -> copy of point 0. (B, N, C), (B, N) -> (B, N, C)."""
    return torch.where(mask.unsqueeze(-1), points[:, :1, :], points)


@FILLS.register("centroid")
def fill_centroid(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dropped points -> mean of the kept points (all points when none is kept)."""
    keep = (~mask).unsqueeze(-1).to(points.dtype)
    count = keep.sum(dim=1, keepdim=True)
    mean_kept = (points * keep).sum(dim=1, keepdim=True) / count.clamp(min=1)
    mean_all = points.mean(dim=1, keepdim=True)
    centroid = torch.where(count > 0, mean_kept, mean_all)
    return torch.where(mask.unsqueeze(-1), centroid, points)


def apply_fill(points: torch.Tensor, mask: torch.Tensor, fill: str) -> torch.Tensor:
    """Replace the points where ``mask`` is True according to ``fill`` (see module docstring).

    Parameters
    ----------
    points : Tensor (B, N, C)
    mask : BoolTensor (B, N)
    fill : str
    """
    if points.dim() != 3 or mask.shape != points.shape[:2]:
        raise ValueError(
            f"points must be (B, N, C) and mask (B, N); got {tuple(points.shape)} and {tuple(mask.shape)}"
        )
    return FILLS.get(fill)(points, mask)
