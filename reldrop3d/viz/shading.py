"""Shading of points drawn as spheres: sphere-impostor normals, Blinn-Phong light, depth cue and
the point size that fits a cloud.

Every function is pure NumPy, so the same shading feeds the software splatter of the matplotlib
back end (per pixel: :func:`sphere_normals` -> :func:`blinn_phong` -> :func:`shade`, times
:func:`depth_cue`, spheres of :func:`world_radius` for a panel's :func:`point_diameter`) and the
Open3D offscreen back end (flat points of that diameter times :func:`depth_cue`).

Conventions are the camera's (OpenCV, :mod:`reldrop3d.viz.camera`): x right, y down, z forward
(away from the viewer), so a surface facing the viewer has normal ``(0, 0, -1)``. Light
directions point from the surface towards the light, in camera coordinates.
"""

from __future__ import annotations

import numpy as np

from .arrays import as_points

#: Key light: above, to the left and in front of the viewer (camera coordinates, towards the light).
LIGHT_DIR = (-0.35, -0.45, -0.82)
AMBIENT = 0.42
DIFFUSE = 0.62
SPECULAR = 0.3
SHININESS = 28.0
#: Far points are darkened by up to this fraction (depth cue).
DEPTH_CUE = 0.3


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise ValueError("light direction must not be zero")
    return v / n


def sphere_normals(dx, dy) -> tuple[np.ndarray, np.ndarray]:
    """Normals of a sphere impostor seen from the camera.

    Parameters
    ----------
    dx, dy : ndarray (...)
        Offsets from the disc's centre in units of its radius (x right, y down).

    Returns
    -------
    normals : ndarray float64 (..., 3)
        Unit normals ``(dx, dy, -sqrt(1 - dx^2 - dy^2))`` (facing the viewer); zero outside.
    inside : ndarray bool (...)
        ``dx^2 + dy^2 <= 1`` (the fragment belongs to the disc).
    """
    dx, dy = np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    rr = dx * dx + dy * dy
    inside = rr <= 1.0
    nz = -np.sqrt(np.clip(1.0 - rr, 0.0, 1.0))
    normals = np.stack([dx, dy, nz], axis=-1)
    normals[~inside] = 0.0
    return normals, inside


def blinn_phong(normals, light=LIGHT_DIR, ambient: float = AMBIENT, diffuse: float = DIFFUSE,
                specular: float = SPECULAR, shininess: float = SHININESS
                ) -> tuple[np.ndarray, np.ndarray]:
    """Lambert diffuse plus Blinn-Phong highlight for a viewer looking along +z.

    Parameters
    ----------
    normals : ndarray (..., 3)
        Unit normals (camera coordinates).
    light : 3 floats
        Direction towards the light (normalised here).

    Returns
    -------
    intensity : ndarray float64 (...)
        ``ambient + diffuse * max(0, n . l)``: multiplies the base colour. For a sphere it is
        largest where the normal faces the light and falls to ``ambient`` at the far rim.
    highlight : ndarray float64 (...)
        ``specular * max(0, n . h) ** shininess`` with ``h`` the half vector between light and
        viewer: white added on top (a small glossy spot).
    """
    n = np.asarray(normals, dtype=np.float64)
    lv = _unit(light)
    half = _unit(lv + np.array([0.0, 0.0, -1.0]))
    lam = np.clip(n @ lv, 0.0, None)
    spec = np.clip(n @ half, 0.0, None) ** shininess
    return ambient + diffuse * lam, specular * spec


def shade(colors, intensity, highlight=0.0) -> np.ndarray:
    """Lit colours: ``clip(colors * intensity + highlight)``.

    Parameters
    ----------
    colors : ndarray (..., 3)
        Base RGB in [0, 1].
    intensity, highlight : ndarray (...) or float
        From :func:`blinn_phong` (and :func:`depth_cue` multiplied into ``intensity``).

    Returns
    -------
    ndarray float64 (..., 3) in [0, 1]
    """
    c = np.asarray(colors, dtype=np.float64)
    out = c * np.asarray(intensity, dtype=np.float64)[..., None]
    out = out + np.asarray(highlight, dtype=np.float64)[..., None]
    return np.clip(out, 0.0, 1.0)


def depth_cue(depth, near: float | None = None, far: float | None = None,
              strength: float = DEPTH_CUE) -> np.ndarray:
    """Brightness factor that falls linearly with depth: 1 at ``near``, ``1 - strength`` at ``far``.

    Parameters
    ----------
    depth : ndarray (...)
        Distance along the viewing direction.
    near, far : float, optional
        Depth range (default: the min and max of ``depth``); values outside are clipped.
    strength : float in [0, 1)

    Returns
    -------
    ndarray float64 (...)
        Non-increasing in depth; all ones when the range is empty.
    """
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"depth-cue strength must be in [0, 1), got {strength}")
    d = np.asarray(depth, dtype=np.float64)
    if d.size == 0:
        return np.ones_like(d)
    lo = float(d.min()) if near is None else float(near)
    hi = float(d.max()) if far is None else float(far)
    if not hi > lo:
        return np.ones_like(d)
    t = np.clip((d - lo) / (hi - lo), 0.0, 1.0)
    return 1.0 - strength * t


def point_spacing(points, max_queries: int = 512) -> float:
    """Typical distance between neighbouring points: the median nearest-neighbour distance.

    Parameters
    ----------
    points : Tensor or ndarray (N, 3)
    max_queries : int
        Points whose nearest neighbour is looked up (evenly strided; the cost is
        ``max_queries x N``).

    Returns
    -------
    float
        World units; falls back to ``2 * radius / sqrt(N)`` for clouds of one point or with
        all points on top of each other.
    """
    xyz = as_points(points)
    n = len(xyz)
    radius = float(np.linalg.norm(xyz - xyz.mean(0), axis=1).max())
    fallback = 2.0 * max(radius, 1e-6) / np.sqrt(max(n, 1))
    if n < 2:
        return fallback
    q = np.arange(0, n, max(1, n // max_queries))[:max_queries]
    d2 = ((xyz[q, None, :] - xyz[None, :, :]) ** 2).sum(-1)
    d2[np.arange(len(q)), q] = np.inf
    nn = np.sqrt(d2.min(1))
    nn = nn[nn > 0]
    return float(np.median(nn)) if nn.size else fallback


def point_diameter(points, camera, coverage: float = 1.6, lo: float = 2.0,
                   hi: float = 28.0) -> float:
    """Disc diameter in pixels (at the cloud's centre) that closes the sampled surface.

    The typical neighbour spacing (:func:`point_spacing`) projected at the depth of the camera's
    look-at point, times ``coverage`` (> 1: neighbouring discs overlap slightly, so a surface
    reads as a surface and not as a scatter of dots), clipped to ``[lo, hi]``. The size follows
    the cloud's extent in the picture and its number of points: a cloud twice as dense gets
    discs ~1/sqrt(2) as large.

    Parameters
    ----------
    points : Tensor or ndarray (N, 3)
    camera : Camera
    """
    spacing = point_spacing(points)
    dist = float(np.linalg.norm(np.subtract(camera.eye, camera.center)))
    px = spacing * camera.focal / max(dist, 1e-9)
    return float(np.clip(coverage * px, lo, hi))


def world_radius(point_size: float, camera) -> float:
    """Sphere radius (world units) whose disc is ``point_size`` pixels wide at the depth of the
    camera's look-at point: what every back end draws for a panel's points."""
    dist = float(np.linalg.norm(np.subtract(camera.eye, camera.center)))
    return 0.5 * float(point_size) * dist / camera.focal


__all__ = [
    "AMBIENT",
    "DEPTH_CUE",
    "DIFFUSE",
    "LIGHT_DIR",
    "SHININESS",
    "SPECULAR",
    "blinn_phong",
    "depth_cue",
    "point_diameter",
    "point_spacing",
    "shade",
    "sphere_normals",
    "world_radius",
]
