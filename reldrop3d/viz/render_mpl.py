"""Matplotlib back end: points projected through the panel's camera, drawn far-to-near.

Always available (matplotlib is a core dependency). Points are discs of ``point_size`` pixels,
depth-sorted (painter's algorithm), with exact colours (no shading), so the picture matches the
Open3D back end's view pixel for pixel up to anti-aliasing.
"""

from __future__ import annotations

import numpy as np

from .figure import DPI, Panel, Rect


def draw_points_mpl(fig, ax, panel: Panel, rect: Rect) -> None:
    """Draw ``panel`` into ``ax`` (whose data limits are the viewport's pixels)."""
    uv, depth = panel.camera.project(panel.points)
    visible = depth > 1e-9
    order = np.argsort(-depth[visible], kind="stable")  # far first, near points on top
    uv, colors = uv[visible][order], panel.colors[visible][order]
    diameter_pt = panel.point_size * 72.0 / DPI
    ax.scatter(uv[:, 0], uv[:, 1], s=diameter_pt**2, c=colors, marker="o", linewidths=0,
               edgecolors="none", antialiased=True)
    return None
