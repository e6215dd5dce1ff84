"""What a dropped point becomes. The batch keeps its shape (B, N, C).

========== ==================================================================================
``zero``    all channels 0 (the official RelDrop 3D code: ``value_replace: 0``)
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


@FILLS.register("mean")
def fill_mean(
    points: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor | None = None
) -> torch.Tensor:
    """Dropped points -> the data-set mean per channel.

    Parameters
    ----------
    points : Tensor (B, N, C)
    mask : BoolTensor (B, N)
    mean : Tensor (C,), optional
        Per-channel data-set mean (e.g. the mean pixel of the training images). Without it, the
        mean of the kept points of the whole batch stands in for the data-set mean.

    Returns
    -------
    Tensor (B, N, C)
    """
    if mean is None:
        keep = (~mask).unsqueeze(-1).to(points.dtype)
        mean = (points * keep).sum(dim=(0, 1)) / keep.sum().clamp(min=1)
    mean = torch.as_tensor(mean, dtype=points.dtype, device=points.device)
    if mean.shape != points.shape[-1:]:
        raise ValueError(f"fill 'mean': mean must have shape ({points.shape[-1]},) (one value per "
                         f"channel), got {tuple(mean.shape)}")
    return torch.where(mask.unsqueeze(-1), mean, points)


@FILLS.register("resample")
def fill_resample(
    points: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Dropped points -> copies of kept points of the same sample, drawn uniformly at random.

    The cloud keeps its shape (B, N, C) and its point density stays on the kept surface (no
    points collapse onto the origin). A sample with every point dropped is left unchanged.

    Parameters
    ----------
    points : Tensor (B, N, C)
    mask : BoolTensor (B, N)
    generator : torch.Generator, optional
        On the points' device, for reproducible draws.

    Returns
    -------
    Tensor (B, N, C)
    """
    b, n, c = points.shape
    keep = ~mask
    # a random key per point; kept points sort first, so the first ``count`` slots are a random
    # permutation of the kept points, and slot ``floor(u * count)`` is a uniform kept point
    u = torch.rand(b, n, generator=generator, device=points.device)
    order = (u + mask.to(u.dtype)).argsort(dim=1)
    count = keep.sum(dim=1, keepdim=True)
    v = torch.rand(b, n, generator=generator, device=points.device)
    slot = (v * count).long().clamp_(max=n - 1)
    source = order.gather(1, slot)
    copies = points.gather(1, source.unsqueeze(-1).expand(b, n, c))
    return torch.where((mask & (count > 0)).unsqueeze(-1), copies, points)
