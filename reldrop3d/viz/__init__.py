"""Visualisation: relevance colours, headless rendering (Open3D or matplotlib), exports, and the
scene state shared by ``reldrop3d render`` and the interactive viewer.

>>> from reldrop3d.viz import render_relevance_png, relevance_colors
>>> render_relevance_png(points, relevance, "relevance.png", title="LRP")  # (N, 3), (N,)

Modules: ``sources`` (data set / file samples), ``explainer`` (model + relevance + RelDrop mask of a
sample), ``scene`` (what a viewer or picture shows), ``session`` (opening checkpoints and data),
``colors``, ``camera`` (incl. the per-class view), ``shading`` (lit spheres, depth cue, point
size), ``figure`` (layout), ``render`` / ``render_mpl`` / ``render_o3d`` (back
ends), ``export`` / ``io`` / ``ply`` (files). Everything a viewer needs is imported from here.
"""

from __future__ import annotations

from .camera import Camera, canonical_view, class_view, fit_camera, principal_azimuth
from .colors import (
    DEFAULT_CMAP,
    DEFAULT_PERCENTILE,
    hot_color,
    label_colors,
    mask_colors,
    neutral_color,
    normalize_relevance,
    relevance_colors,
)
from .explainer import Explained, Explainer
from .figure import BACKGROUND, GHOST_ALPHA, GHOST_COLOR, Colorbar, FigureSpec, Panel, compose
from .render import (
    relevance_figure,
    render_figure,
    render_figure_png,
    render_relevance_png,
    resolve_backend,
    save_png,
)
from .render_o3d import srgb_encode
from .scene import ACTIONS, Mode, PanelView, ViewerState, help_text, mode_views, views_figure
from .session import open_session
from .shading import (
    blinn_phong,
    depth_cue,
    point_diameter,
    point_spacing,
    shade,
    sphere_normals,
    world_radius,
)
from .sources import DatasetSource, FileSource, Sample

__all__ = [
    "ACTIONS",
    "BACKGROUND",
    "DEFAULT_CMAP",
    "DEFAULT_PERCENTILE",
    "GHOST_ALPHA",
    "GHOST_COLOR",
    "DatasetSource",
    "Explained",
    "Explainer",
    "FileSource",
    "Mode",
    "PanelView",
    "Sample",
    "ViewerState",
    "compose",
    "help_text",
    "mode_views",
    "open_session",
    "srgb_encode",
    "views_figure",
    "Camera",
    "Colorbar",
    "FigureSpec",
    "Panel",
    "blinn_phong",
    "canonical_view",
    "class_view",
    "depth_cue",
    "fit_camera",
    "point_diameter",
    "point_spacing",
    "principal_azimuth",
    "shade",
    "sphere_normals",
    "world_radius",
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
