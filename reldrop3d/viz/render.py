"""Back-end selection and the high-level PNG writers.

``backend="auto"`` is the matplotlib back end (lit sphere impostors splatted with NumPy: the
reference look of every picture, the same on every machine, and faster than Open3D on CPU). The
environment variable ``RELDROP3D_RENDER_BACKEND`` (``open3d`` | ``matplotlib``) overrides ``auto``.
``"open3d"`` uses Open3D's offscreen renderer when ``open3d`` imports and a probe in a subprocess
shows that the renderer works here (a broken GL/EGL stack can crash the process, so it is never
tried in-process first); asked for explicitly through the environment variable it falls back to
matplotlib with one line saying why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..utils.io import atomic_path
from .arrays import as_points, as_values
from .colors import (
    DEFAULT_CMAP,
    DEFAULT_PERCENTILE,
    relevance_colors,
    relevance_scale,
    robust_vmax,
)
from .figure import Colorbar, FigureSpec, Panel, compose

BACKENDS = ("auto", "open3d", "matplotlib")
_fallback_reported = False


def resolve_backend(backend: str = "auto", quiet: bool = False) -> str:
    """The concrete back end for ``backend``: ``"open3d"`` or ``"matplotlib"``.

    Raises
    ------
    RuntimeError
        ``backend="open3d"`` was asked for but Open3D's renderer cannot run here (with why).
    """
    global _fallback_reported
    if backend not in BACKENDS:
        raise ValueError(f"unknown render backend {backend!r}; choose from {BACKENDS}")
    if backend == "auto":
        backend = os.environ.get("RELDROP3D_RENDER_BACKEND", "matplotlib") or "matplotlib"
        if backend not in BACKENDS:
            raise ValueError(f"RELDROP3D_RENDER_BACKEND={backend!r}; choose from {BACKENDS}")
        if backend == "open3d":
            backend = "auto"  # asked for through the environment: fall back if it cannot run
    if backend == "matplotlib":
        return backend
    from .render_o3d import open3d_status

    ok, why = open3d_status()
    if ok:
        return "open3d"
    if backend == "open3d":
        raise RuntimeError(f"Open3D renderer unavailable: {why}")
    if not quiet and not _fallback_reported:
        print(f"reldrop3d.viz: rendering with matplotlib ({why})", file=sys.stderr)
        _fallback_reported = True
    return "matplotlib"


def render_figure(spec: FigureSpec, backend: str = "auto") -> np.ndarray:
    """Render a :class:`FigureSpec` to an RGB image (height, width, 3) uint8."""
    name = resolve_backend(backend)
    if name == "open3d":
        from .render_o3d import draw_points_o3d as draw
    else:
        from .render_mpl import draw_points_mpl as draw
    return compose(spec, draw)


def save_png(image: np.ndarray, path) -> Path:
    """Write an RGB uint8 image (H, W, 3) to ``path`` atomically; returns the path."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a normal file, not the temporary file's 0600
    return path


def render_figure_png(spec: FigureSpec, path, backend: str = "auto") -> Path:
    """Render a :class:`FigureSpec` and write it as PNG."""
    return save_png(render_figure(spec, backend), path)


def relevance_figure(
    points,
    relevance,
    title: str | None = None,
    width: int = 640,
    height: int = 512,
    cmap: str = DEFAULT_CMAP,
    symmetric: bool = True,
    point_size: float | None = None,
    camera=None,
    elev: float = 25.0,
    azim: float = 35.0,
    up: str = "y",
    percentile: float | None = DEFAULT_PERCENTILE,
    views: int = 1,
) -> FigureSpec:
    """The :class:`FigureSpec` of one cloud coloured by relevance, with a colour bar.

    ``percentile`` (symmetric only): the scale is that percentile of ``|R|`` (clipped beyond,
    arrow ends on the bar); None or 100 = ``max|R|``. ``views`` > 1: the cloud from that many
    azimuths ``azim + k * 360 / views`` side by side (one colour scale).
    """
    xyz = as_points(points)
    r = as_values(relevance, len(xyz))
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    clipped = symmetric and percentile is not None and percentile < 100.0
    vmax = robust_vmax(r, percentile) if clipped else None
    vmin, vmax_ = relevance_scale(r, symmetric, vmax)
    colors = relevance_colors(r, cmap, symmetric, vmax)
    panels = [Panel(xyz, colors, point_size=point_size, camera=camera if k == 0 else None,
                    view=(elev, azim + k * 360.0 / views)) for k in range(views)]
    label = f"relevance (clipped at p{percentile:g} of |R|)" if clipped else "relevance"
    return FigureSpec(panels, width, height, columns=views, title=title,
                      colorbar=Colorbar(cmap, vmin, vmax_, label,
                                        "both" if clipped else "neither"),
                      elev=elev, azim=azim, up=up)


def render_relevance_png(
    points,
    relevance,
    path,
    title: str | None = None,
    backend: str = "auto",
    width: int = 640,
    height: int = 512,
    **figure_kwargs,
) -> Path:
    """Render one cloud coloured by its relevance to a PNG (no display needed).

    Parameters
    ----------
    points : Tensor or ndarray (N, 3) or (N, C>=3)
        xyz (extra channels ignored).
    relevance : Tensor or ndarray (N,)
        Signed relevance; diverging colour map, zero = neutral colour.
    path : str or Path
        Output PNG (written atomically; parent folders created).
    title : str, optional
    backend : {"auto", "open3d", "matplotlib"}
    width, height : int
        Size of the PNG in pixels (the colour bar takes a band on the right).
    **figure_kwargs
        ``cmap`` (diverging matplotlib map, default ``bwr``), ``symmetric`` (zero at the map's
        centre, default True), ``percentile`` (scale = this percentile of ``|R|``, default 95;
        None = ``max|R|``), ``point_size`` (px; default fitted to the cloud), ``camera`` (a fixed
        :class:`Camera`), ``elev`` / ``azim`` (view direction in degrees), ``views`` (number of
        azimuths side by side), ``up`` (``"y"``, ``"z"`` or ``"x"``); see
        :func:`relevance_figure`.

    Returns
    -------
    Path of the PNG.
    """
    spec = relevance_figure(points, relevance, title, width, height, **figure_kwargs)
    return render_figure_png(spec, path, backend)
