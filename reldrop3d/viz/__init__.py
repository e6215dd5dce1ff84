"""Visualisation: relevance colours, headless rendering (Open3D or matplotlib), exports.

>>> from reldrop3d.viz import render_relevance_png, relevance_colors
>>> render_relevance_png(points, relevance, "relevance.png", title="LRP")  # (N, 3), (N,)
"""

from __future__ import annotations

from .camera import Camera, fit_camera
from .colors import (
    DEFAULT_CMAP,
    hot_color,
    label_colors,
    mask_colors,
    neutral_color,
    normalize_relevance,
    relevance_colors,
)
from .figure import Colorbar, FigureSpec, Panel
from .render import (
    relevance_figure,
    render_figure,
    render_figure_png,
    render_relevance_png,
    resolve_backend,
    save_png,
)

__all__ = [
    "DEFAULT_CMAP",
    "Camera",
    "Colorbar",
    "FigureSpec",
    "Panel",
    "fit_camera",
    "hot_color",
    "label_colors",
    "mask_colors",
    "neutral_color",
    "normalize_relevance",
    "relevance_colors",
    "relevance_figure",
    "render_figure",
    "render_figure_png",
    "render_relevance_png",
    "resolve_backend",
    "save_png",
]
