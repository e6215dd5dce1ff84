"""Exports: coloured PLY with relevance as a scalar property, and image heat-map overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .arrays import as_mask, as_points, as_values, to_numpy
from .colors import DEFAULT_CMAP, normalize_relevance, relevance_colors
from .ply import write_ply


def export_relevance_ply(
    path,
    points,
    relevance,
    cmap: str = DEFAULT_CMAP,
    symmetric: bool = True,
    normals=None,
    mask=None,
    parts=None,
    binary: bool = True,
) -> Path:
    """Write a cloud coloured by relevance, with the relevance itself as a vertex property.

    Parameters
    ----------
    path : str or Path
        Output ``.ply`` (written atomically).
    points : Tensor or ndarray (N, 3) or (N, C>=3)
    relevance : Tensor or ndarray (N,)
        Stored unchanged as the float property ``relevance``; colours follow
        :func:`~reldrop3d.viz.colors.relevance_colors`.
    cmap, symmetric
        Colour map and normalisation of the colours.
    normals : (N, 3), optional
    mask : (N,) bool, optional
        RelDrop mask (True = dropped), stored as the property ``dropped`` (0/1).
    parts : (N,) int, optional
        Part labels, stored as the property ``part``.
    binary : bool
        Binary little-endian (default) or ASCII PLY.

    Returns
    -------
    Path
    """
    xyz = as_points(points)
    r = as_values(relevance, len(xyz))
    scalars = {"relevance": r}
    if mask is not None:
        scalars["dropped"] = as_mask(mask, len(xyz)).astype(np.float64)
    if parts is not None:
        scalars["part"] = as_values(parts, len(xyz), name="parts")
    return write_ply(path, xyz, relevance_colors(r, cmap, symmetric), normals=normals,
                     scalars=scalars, binary=binary)


def _image_hwc(image) -> np.ndarray:
    img = np.asarray(to_numpy(image), dtype=np.float64)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[2] not in (1, 3):
        img = img.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(
            f"image must be (H, W), (H, W, C) or (C, H, W) with C in (1, 3), got {img.shape}"
        )
    if not np.isfinite(img).all():
        raise ValueError("image contains NaN or infinite values")
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)  # any range -> [0, 1]
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def relevance_overlay(
    image,
    relevance,
    cmap: str = DEFAULT_CMAP,
    symmetric: bool = True,
    alpha: float = 0.7,
) -> np.ndarray:
    """Blend a relevance heat map over a grey version of the image.

    Parameters
    ----------
    image : Tensor or ndarray (H, W), (H, W, C) or (C, H, W)
        Any value range (rescaled to [0, 1] for display).
    relevance : Tensor or ndarray (H, W) or (C, H, W)
        Pixel relevance; channels are summed.
    cmap, symmetric
        As for point clouds (zero = the map's neutral colour).
    alpha : float in [0, 1]
        Opacity of the heat map where ``|R|`` is largest; it fades to 0 where ``R = 0``, so
        irrelevant regions show the image.

    Returns
    -------
    ndarray uint8 (H, W, 3)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = _image_hwc(image)
    rel = np.asarray(to_numpy(relevance), dtype=np.float64)
    if rel.ndim == 3:
        rel = rel.sum(0)
    if rel.shape != img.shape[:2]:
        raise ValueError(f"relevance {rel.shape} does not match image {img.shape[:2]}")
    flat = rel.reshape(-1)
    heat = relevance_colors(flat, cmap, symmetric).reshape(*rel.shape, 3)
    strength = np.abs(normalize_relevance(flat, symmetric) - 0.5).reshape(rel.shape) * 2.0
    grey = img.mean(axis=2, keepdims=True).repeat(3, axis=2)
    a = (alpha * strength)[..., None]
    out = (1 - a) * grey + a * heat
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def relevance_overlay_png(image, relevance, path, cmap: str = DEFAULT_CMAP,
                          symmetric: bool = True, alpha: float = 0.7, scale: int = 1) -> Path:
    """Write :func:`relevance_overlay` as a PNG (``scale``: integer nearest-neighbour zoom)."""
    from .render import save_png

    out = relevance_overlay(image, relevance, cmap, symmetric, alpha)
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return save_png(out, path)
