"""Gathering and grouping of per-point tensors by neighbour indices (differentiable in the data)."""

from __future__ import annotations

import torch

from .knn import knn


def gather_points(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick rows of a per-point tensor by index, batch by batch.

    Parameters
    ----------
    x : Tensor (B, N, C)
    idx : LongTensor (B, ...)
        Indices into dim 1 of ``x``, any trailing shape (e.g. (B, M) or (B, M, K)).

    Returns
    -------
    Tensor (B, ..., C)
        ``out[b, i, ...] = x[b, idx[b, i, ...]]``; gradients flow back into ``x``.
    """
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, N, C), got {tuple(x.shape)}")
    if idx.dim() < 2 or idx.shape[0] != x.shape[0]:
        raise ValueError(
            f"idx must have shape (B, ...) with B={x.shape[0]}, got {tuple(idx.shape)}"
        )
    if idx.dtype != torch.long:
        raise TypeError(f"idx must be a LongTensor, got {idx.dtype}")
    b, _, c = x.shape
    flat = idx.reshape(b, -1, 1).expand(-1, -1, c)
    return x.gather(1, flat).view(*idx.shape, c)


def group_points(
    xyz: torch.Tensor,
    centroids: torch.Tensor,
    idx: torch.Tensor,
    features: torch.Tensor | None = None,
    use_xyz: bool = True,
) -> torch.Tensor:
    """Neighbourhoods around centroids, coordinates relative to their centroid (PointNet++).

    Parameters
    ----------
    xyz : Tensor (B, N, 3)
        Coordinates of all points.
    centroids : Tensor (B, M, 3)
        Neighbourhood centres.
    idx : LongTensor (B, M, K)
        Neighbour indices into dim 1 of ``xyz`` (from :func:`~reldrop3d.ops.ball_query` or
        :func:`~reldrop3d.ops.knn`).
    features : Tensor (B, N, C), optional
        Per-point features grouped alongside.
    use_xyz : bool
        Put the relative coordinates in front of the features (always when ``features`` is None).

    Returns
    -------
    Tensor (B, M, K, 3 + C) (or (B, M, K, C) with ``use_xyz=False``)
        ``[xyz[idx] - centroid, features[idx]]``.
    """
    if features is None and not use_xyz:
        raise ValueError("group_points needs features or use_xyz=True (there is nothing to group)")
    parts = []
    if use_xyz:
        parts.append(gather_points(xyz, idx) - centroids.unsqueeze(2))
    if features is not None:
        if features.shape[:2] != xyz.shape[:2]:
            raise ValueError(f"features {tuple(features.shape)} and xyz {tuple(xyz.shape)} must "
                             "share (B, N)")
        parts.append(gather_points(features, idx))
    return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]


def knn_interpolate(
    xyz_dst: torch.Tensor,
    xyz_src: torch.Tensor,
    features_src: torch.Tensor,
    k: int = 3,
    eps: float = 1e-8,
    backend: str = "auto",
) -> torch.Tensor:
    """Inverse-squared-distance weighted interpolation from the k nearest source points.

    PointNet++'s feature propagation (``three_nn`` + ``three_interpolate``, weights
    ``1 / (d^2 + eps)`` normalised to sum to one).

    Parameters
    ----------
    xyz_dst : Tensor (B, N, 3)
        Where features are wanted.
    xyz_src : Tensor (B, M, 3)
        Where features are known.
    features_src : Tensor (B, M, C)
    k : int
        Neighbours used (capped at M).

    Returns
    -------
    Tensor (B, N, C)
        Interpolated features; the weights are constants (computed without autograd), so the
        result is linear in ``features_src``.
    """
    if features_src.shape[:2] != xyz_src.shape[:2]:
        raise ValueError(f"features_src {tuple(features_src.shape)} and xyz_src "
                         f"{tuple(xyz_src.shape)} must share (B, M)")
    idx, w = interpolation_weights(xyz_dst, xyz_src, k, eps, backend)
    return (gather_points(features_src, idx) * w.unsqueeze(-1)).sum(2)


def interpolation_weights(
    xyz_dst: torch.Tensor, xyz_src: torch.Tensor, k: int = 3, eps: float = 1e-8,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbours and weights of :func:`knn_interpolate`, computed without autograd.

    Returns
    -------
    idx : LongTensor (B, N, k)
        The k nearest source points of every destination point.
    weights : Tensor (B, N, k)
        ``1 / (d^2 + eps)``, normalised to sum to 1 per destination point.
    """
    k = min(k, xyz_src.shape[1])
    with torch.no_grad():
        idx, d2 = knn(xyz_dst, xyz_src, k, backend=backend)
        w = 1.0 / (d2 + eps)
        return idx, w / w.sum(-1, keepdim=True)
