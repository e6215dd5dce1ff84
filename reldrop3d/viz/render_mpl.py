"""Matplotlib back end: points splatted as lit spheres into the panel's viewport (pure NumPy).

Always available (matplotlib draws the frame, NumPy the points). Each point is a sphere impostor
of the panel's world radius seen through its camera (so near points are larger): per pixel a
normal from :func:`~reldrop3d.viz.shading.sphere_normals`, Blinn-Phong light and a depth cue from
:mod:`reldrop3d.viz.shading`, and a z-buffer on the sphere's surface depth (spheres that
intersect are cut correctly, no painter's artefacts). Ghost points (e.g. the points RelDrop
dropped) are flat, unlit discs blended translucently over what is behind them and hidden by what
is in front of them, so they read as "was here" and not as points of the shape.
The viewport is rendered at ``SUPERSAMPLE`` times its size and box-filtered (anti-aliasing).
"""

from __future__ import annotations

import numpy as np

from .figure import Panel, Rect
from .shading import blinn_phong, depth_cue, shade, sphere_normals, world_radius

SUPERSAMPLE = 2
_MAX_FRAGMENTS = 2_000_000  # per chunk of points, bounds memory


def _fragments(uv, depth, radius_px, radius_world, width, height):
    """Pixels covered by each disc: (point index, pixel index, fragment depth, normals)."""
    rmax = int(np.ceil(radius_px.max())) if len(radius_px) else 0
    offs = np.arange(-rmax, rmax + 1)
    ox, oy = np.meshgrid(offs, offs)
    ox, oy = ox.ravel(), oy.ravel()
    # pixel centres around each point's centre
    cx, cy = np.floor(uv[:, 0]), np.floor(uv[:, 1])
    px = cx[:, None] + ox[None, :]
    py = cy[:, None] + oy[None, :]
    inv_r = 1.0 / radius_px[:, None]
    dx = (px + 0.5 - uv[:, 0:1]) * inv_r
    dy = (py + 0.5 - uv[:, 1:2]) * inv_r
    inside = (dx * dx + dy * dy <= 1.0) & (px >= 0) & (px < width) & (py >= 0) & (py < height)
    pid, k = np.nonzero(inside)
    n, _ = sphere_normals(dx[pid, k], dy[pid, k])  # only the covered fragments
    fdepth = depth[pid] + radius_world * n[:, 2]  # n_z <= 0: the sphere's front surface
    pix = (py[pid, k] * width + px[pid, k]).astype(np.int64)
    return pid, pix, fdepth, n


def _nearest(pix, fdepth, size: int):
    """Index of the nearest fragment of every covered pixel (one per pixel)."""
    zbuf = np.full(size, np.inf)
    np.minimum.at(zbuf, pix, fdepth)
    win = np.nonzero(fdepth == zbuf[pix])[0]
    # exact ties (the same depth at a pixel) are equally near: keep the first of each pixel
    _, first = np.unique(pix[win], return_index=True)
    return win[first]


def splat(uv, depth, colors, radius_px, radius_world, width: int, height: int,
          cue=None, light=None, lit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered lit sphere impostors.

    Parameters
    ----------
    uv : ndarray (N, 2)
        Pixel centres of the points.
    depth : ndarray (N,)
        Depth of the points' centres (> 0).
    colors : ndarray (N, 3)
        Base RGB in [0, 1].
    radius_px : ndarray (N,)
        Disc radius of each point in pixels.
    radius_world : float
        Sphere radius in world units (the fragment depth is the sphere's surface).
    width, height : int
        Image size.
    cue : ndarray (N,), optional
        Per-point brightness factor (:func:`~reldrop3d.viz.shading.depth_cue`).
    light : 3 floats, optional
        Light direction (camera coordinates); default :data:`~reldrop3d.viz.shading.LIGHT_DIR`.
    lit : bool
        False: flat discs of the base colour (times ``cue``), no light (ghost points).

    Returns
    -------
    rgb : ndarray float64 (height, width, 3)
        Shaded colour where covered (undefined elsewhere).
    zbuf : ndarray float64 (height, width)
        Depth of the nearest sphere surface; ``inf`` where no point covers the pixel.
    """
    rgb = np.zeros((height * width, 3))
    zbuf = np.full(height * width, np.inf)
    n = len(uv)
    if n == 0:
        return rgb.reshape(height, width, 3), zbuf.reshape(height, width)
    per_point = (2 * int(np.ceil(radius_px.max())) + 1) ** 2
    step = max(1, _MAX_FRAGMENTS // per_point)
    kwargs = {} if light is None else {"light": light}
    for s in range(0, n, step):
        sl = slice(s, s + step)
        pid, pix, fdepth, normals = _fragments(uv[sl], depth[sl], radius_px[sl], radius_world,
                                               width, height)
        if not len(pid):
            continue
        win = _nearest(pix, fdepth, height * width)
        pid, pix, fdepth, normals = pid[win], pix[win], fdepth[win], normals[win]
        closer = fdepth < zbuf[pix]
        pid, pix, fdepth, normals = pid[closer], pix[closer], fdepth[closer], normals[closer]
        if lit:
            intensity, highlight = blinn_phong(normals, **kwargs)
        else:
            intensity, highlight = np.ones(len(pid)), np.zeros(len(pid))
        if cue is not None:
            intensity = intensity * cue[sl][pid]
            highlight = highlight * cue[sl][pid]
        rgb[pix] = shade(colors[sl][pid], intensity, highlight)
        zbuf[pix] = fdepth
    return rgb.reshape(height, width, 3), zbuf.reshape(height, width)


def render_panel_mpl(panel: Panel, background=(1.0, 1.0, 1.0),
                     supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Render the points (and ghost points) of ``panel`` through its camera.

    Returns
    -------
    ndarray uint8 (height, width, 3)
    """
    cam = panel.camera
    s = int(supersample)
    if s < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    big = cam.with_size(cam.width * s, cam.height * s)
    w, h = big.width, big.height
    radius_world = world_radius(panel.point_size, cam)
    out = np.empty((h, w, 3))
    out[:] = np.asarray(background, dtype=np.float64)[:3]

    uv, depth = big.project(panel.points)
    ghosts = panel.ghost_points
    if ghosts is not None and len(ghosts):
        guv, gdepth = big.project(ghosts)
        all_depth = np.concatenate([depth, gdepth])
    else:
        all_depth = depth
    vis_all = all_depth > 1e-9
    near, far = (float(all_depth[vis_all].min()), float(all_depth[vis_all].max())) \
        if vis_all.any() else (None, None)

    def draw(uv, depth, colors, lit=True):
        vis = depth > 1e-9
        uv, depth, colors = uv[vis], depth[vis], colors[vis]
        r = radius_world * big.focal / depth
        return splat(uv, depth, colors, r, radius_world, w, h,
                     cue=depth_cue(depth, near, far) if lit else None, lit=lit)

    rgb, zbuf = draw(uv, depth, panel.colors)
    covered = np.isfinite(zbuf)
    out[covered] = rgb[covered]
    if ghosts is not None and len(ghosts):
        g_rgb, g_z = draw(guv, gdepth, np.tile(np.asarray(panel.ghost_color, float),
                                               (len(ghosts), 1)), lit=False)
        front = np.isfinite(g_z) & (g_z < zbuf)  # hidden by kept points in front of it
        a = float(panel.ghost_alpha)
        out[front] = (1.0 - a) * out[front] + a * g_rgb[front]
    out = out.reshape(cam.height, s, cam.width, s, 3).mean(axis=(1, 3))
    return np.rint(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)


def draw_points_mpl(fig, ax, panel: Panel, rect: Rect) -> np.ndarray:
    """:data:`~reldrop3d.viz.figure.DrawFn` for :func:`~reldrop3d.viz.figure.compose`."""
    return render_panel_mpl(panel, ax.get_facecolor())
