"""Input checks shared by the visualisation code: tensors or arrays in, validated NumPy out."""

from __future__ import annotations

import numpy as np


def to_numpy(x) -> np.ndarray:
    """A NumPy view/copy of a torch tensor (any device, detached) or array-like."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def as_points(points, name: str = "points") -> np.ndarray:
    """Validate a single cloud and return its xyz as float64 (N, 3).

    Parameters
    ----------
    points : Tensor or ndarray (N, C), C >= 3
        Extra channels (normals, features) are ignored.

    Raises
    ------
    ValueError
        Wrong shape, empty cloud or non-finite coordinates.
    """
    arr = to_numpy(points)
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise ValueError(f"{name} must have shape (N, 3) or (N, C>=3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is an empty cloud (N = 0)")
    xyz = np.asarray(arr[:, :3], dtype=np.float64)
    if not np.isfinite(xyz).all():
        bad = int((~np.isfinite(xyz).all(axis=1)).sum())
        raise ValueError(f"{name} contains {bad} point(s) with NaN or infinite coordinates")
    return xyz


def as_values(values, n: int | None = None, name: str = "relevance") -> np.ndarray:
    """Validate per-point scalars and return float64 (N,).

    Parameters
    ----------
    values : Tensor or ndarray (N,)
    n : int, optional
        Expected length (the number of points).
    """
    arr = np.asarray(to_numpy(values), dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (N,), got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but there are {n} points")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def as_mask(mask, n: int, name: str = "mask") -> np.ndarray:
    """Validate a per-point boolean mask (N,) (True = dropped)."""
    arr = to_numpy(mask)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1), got values outside {{0, 1}}")
        arr = arr.astype(bool)
    return arr
