"""Figure layout and composition shared by the rendering back ends.

A figure is a grid of :class:`Panel` s (one point cloud each, seen through its own
:class:`~reldrop3d.viz.camera.Camera`), an optional title band on top and an optional side band with
a colour bar or a legend. Matplotlib draws the frame (texts, colour bar, legend); the points of each
panel are drawn by the chosen back end into the panel's viewport, whose pixel rectangle is known
exactly, so ``Panel.camera.project`` plus the viewport offset tells where any point lands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .arrays import as_points
from .camera import DEFAULT_AZIM, DEFAULT_ELEV, Camera
from .shading import point_diameter

#: Viewport background: white. Points are lit spheres (:mod:`reldrop3d.viz.shading`), so even
#: points of zero relevance (the diverging map's white centre) are visible by their shading.
BACKGROUND = (1.0, 1.0, 1.0)
#: Colour and opacity of ghost points (e.g. the points RelDrop dropped, drawn in place).
GHOST_COLOR = (0.55, 0.55, 0.55)
GHOST_ALPHA = 0.3
TITLE_BAND = 30  # px
PANEL_TITLE_BAND = 22  # px
DPI = 100


@dataclass
class Panel:
    """One cloud to draw.

    Attributes
    ----------
    points : ndarray (N, 3)
    colors : ndarray (N, 3)
        RGB in [0, 1].
    title : str, optional
        Caption above the viewport.
    point_size : float, optional
        Point diameter in pixels at the depth of the camera's look-at point (nearer points are
        drawn larger). None: fitted to the cloud's spacing by :func:`layout_figure`
        (:func:`~reldrop3d.viz.shading.point_diameter`).
    camera : Camera, optional
        Set by :func:`layout_figure` (fitted to the cloud unless given).
    view : (elev, azim), optional
        Viewing direction of this panel in degrees (default: the figure's).
    ghost_points : ndarray (M, 3), optional
        Points drawn in place but translucent (``ghost_color`` at opacity ``ghost_alpha``),
        e.g. the points RelDrop dropped; they are included when the camera is fitted.
    """

    points: np.ndarray
    colors: np.ndarray
    title: str | None = None
    point_size: float | None = None
    camera: Camera | None = None
    view: tuple[float, float] | None = None
    ghost_points: np.ndarray | None = None
    ghost_color: Sequence[float] = GHOST_COLOR
    ghost_alpha: float = GHOST_ALPHA

    def __post_init__(self):
        self.points = as_points(self.points)
        self.colors = np.asarray(self.colors, dtype=np.float64)
        if self.colors.shape != self.points.shape:
            raise ValueError(f"colors {self.colors.shape} do not match points {self.points.shape}")
        if not np.isfinite(self.colors).all() or self.colors.min() < 0 or self.colors.max() > 1:
            raise ValueError("colors must be finite RGB values in [0, 1]")
        if self.point_size is not None and not self.point_size > 0:
            raise ValueError(f"point_size must be > 0, got {self.point_size}")
        if self.ghost_points is not None:
            self.ghost_points = (as_points(self.ghost_points, "ghost_points")
                                 if len(self.ghost_points) else np.zeros((0, 3)))
        if not 0.0 <= self.ghost_alpha <= 1.0:
            raise ValueError(f"ghost_alpha must be in [0, 1], got {self.ghost_alpha}")

    def all_points(self) -> np.ndarray:
        """Points and ghost points (M + N, 3): what the camera must see."""
        if self.ghost_points is None or not len(self.ghost_points):
            return self.points
        return np.concatenate([self.points, self.ghost_points])


@dataclass
class Colorbar:
    """A vertical colour bar: ``cmap`` over ``[vmin, vmax]``; ``extend="both"`` draws arrow ends
    (values beyond the range are clipped to the ends, e.g. a percentile scale)."""

    cmap: str
    vmin: float
    vmax: float
    label: str = "relevance"
    extend: str = "neither"


@dataclass
class FigureSpec:
    """What to draw: panels in a grid of ``columns`` columns, title, colour bar or legend.

    ``legend`` is a list of ``(label, rgb)`` entries (used for masks and part labels); it is drawn
    in the side band under the colour bar when both are given.
    """

    panels: list[Panel]
    width: int
    height: int
    columns: int = 1
    title: str | None = None
    colorbar: Colorbar | None = None
    legend: list[tuple[str, Sequence[float]]] = field(default_factory=list)
    elev: float = DEFAULT_ELEV
    azim: float = DEFAULT_AZIM
    up: str = "y"
    shared_camera: bool = False  # one camera fitted to all panels' points (synchronised views)
    camera_groups: Sequence[int] | None = None  # panels of a group share one fitted camera
    background: Sequence[float] = BACKGROUND  # viewport colour (RGB in [0, 1])

    def __post_init__(self):
        if not self.panels:
            raise ValueError("a figure needs at least one panel")
        if self.columns < 1:
            raise ValueError(f"columns must be >= 1, got {self.columns}")
        if self.width < 32 or self.height < 32:
            raise ValueError(f"image must be at least 32x32 pixels, got {self.width}x{self.height}")


@dataclass(frozen=True)
class Rect:
    """Pixel rectangle, origin at the image's top-left corner."""

    x: int
    y: int
    w: int
    h: int

    def fraction(self, width: int, height: int) -> list[float]:
        """Matplotlib ``[left, bottom, width, height]`` figure fractions."""
        return [self.x / width, 1.0 - (self.y + self.h) / height, self.w / width, self.h / height]


def side_band_width(spec: FigureSpec) -> int:
    if spec.colorbar is None and not spec.legend:
        return 0
    return max(110 if spec.legend else 80, spec.width // 7)


def layout_figure(spec: FigureSpec) -> list[Rect]:
    """Viewport rectangles of the panels (and fitted cameras, set on panels without one)."""
    top = TITLE_BAND if spec.title else 0
    band = side_band_width(spec)
    cols = min(spec.columns, len(spec.panels))
    rows = math.ceil(len(spec.panels) / cols)
    cell_w = (spec.width - band) // cols
    cell_h = (spec.height - top) // rows
    sub = PANEL_TITLE_BAND if any(p.title for p in spec.panels) else 0
    if cell_w < 16 or cell_h - sub < 16:
        raise ValueError(
            f"image {spec.width}x{spec.height} is too small for {len(spec.panels)} panels"
        )
    rects = []
    groups = spec.camera_groups
    if groups is None and spec.shared_camera:
        groups = [0] * len(spec.panels)
    shared = {}
    if groups is not None:
        if len(groups) != len(spec.panels):
            raise ValueError(
                f"camera_groups has {len(groups)} entries for {len(spec.panels)} panels"
            )
        # panels of a group seen from the same direction share one camera (and point size)
        keys = [(g, _view(p, spec)) for p, g in zip(spec.panels, groups)]
        for key in dict.fromkeys(keys):
            members = [p for p, k in zip(spec.panels, keys) if k == key]
            union = np.concatenate([p.all_points() for p in members])
            cam = _fit(union, key[1], Rect(0, 0, cell_w, cell_h - sub), spec)
            size = None
            if any(p.point_size is None for p in members):
                size = point_diameter(max((p.all_points() for p in members), key=len), cam)
            shared[key] = (cam, size)
    for i, panel in enumerate(spec.panels):
        r, c = divmod(i, cols)
        rect = Rect(c * cell_w, top + r * cell_h + sub, cell_w, cell_h - sub)
        rects.append(rect)
        if groups is not None and panel.camera is None:
            panel.camera, size = shared[keys[i]]
            if panel.point_size is None:
                panel.point_size = size
        if panel.camera is None or (panel.camera.width, panel.camera.height) != (rect.w, rect.h):
            panel.camera = (
                panel.camera.with_size(rect.w, rect.h)
                if panel.camera is not None
                else _fit(panel.all_points(), _view(panel, spec), rect, spec)
            )
        if panel.point_size is None:
            panel.point_size = point_diameter(panel.all_points(), panel.camera)
    return rects


def _view(panel: Panel, spec: FigureSpec) -> tuple[float, float]:
    return tuple(panel.view) if panel.view is not None else (spec.elev, spec.azim)


def _fit(points, view, rect: Rect, spec: FigureSpec) -> Camera:
    from .camera import fit_camera

    return fit_camera(points, rect.w, rect.h, elev=view[0], azim=view[1], up=spec.up)


#: draws the points of one panel; ``(figure, axes, panel, rect) -> image or None``. A back end
#: that draws into the matplotlib axes returns None; one that renders elsewhere returns an
#: (h, w, 3) uint8 image that is pasted into the viewport (background: ``axes.get_facecolor()``).
DrawFn = Callable[..., "np.ndarray | None"]


def compose(spec: FigureSpec, draw: DrawFn) -> np.ndarray:
    """Render a figure to an RGB image (height, width, 3) uint8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rects = layout_figure(spec)
    fig = Figure(figsize=(spec.width / DPI, spec.height / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    fontsize = max(7.0, min(12.0, spec.width / 60))
    pasted = []
    for panel, rect in zip(spec.panels, rects):
        ax = fig.add_axes(rect.fraction(spec.width, spec.height))
        ax.set_xlim(0, rect.w)
        ax.set_ylim(rect.h, 0)
        ax.set_facecolor(tuple(spec.background))
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        image = draw(fig, ax, panel, rect)
        if image is not None:
            pasted.append((rect, image))
        if panel.title:
            # shrink long captions to the panel's width (~0.6 em per character)
            fits = rect.w / (0.6 * len(panel.title) * DPI / 72)
            fig.text((rect.x + rect.w / 2) / spec.width,
                     1.0 - (rect.y - PANEL_TITLE_BAND / 2) / spec.height, panel.title,
                     ha="center", va="center", fontsize=max(5.0, min(fontsize * 0.9, fits)))
    if spec.title:
        fig.text(0.5, 1.0 - TITLE_BAND / 2 / spec.height, spec.title, ha="center", va="center",
                 fontsize=fontsize)
    _draw_side_band(fig, spec, fontsize)
    canvas.draw()
    out = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    out = _to_size(out, spec.height, spec.width)
    for rect, image in pasted:
        if image.shape != (rect.h, rect.w, 3):
            raise RuntimeError(f"back end returned {image.shape}, expected {(rect.h, rect.w, 3)}")
        out[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = image
    return out


def _to_size(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pad with white / crop to exactly (h, w) (guards against float rounding of figsize)."""
    if img.shape[:2] == (h, w):
        return img
    out = np.full((h, w, 3), 255, np.uint8)
    hh, ww = min(h, img.shape[0]), min(w, img.shape[1])
    out[:hh, :ww] = img[:hh, :ww]
    return out


def _draw_side_band(fig, spec: FigureSpec, fontsize: float) -> None:
    band = side_band_width(spec)
    if not band:
        return
    top = TITLE_BAND if spec.title else 0
    x0 = spec.width - band
    avail = spec.height - top
    legend_h = min(avail // 2, 20 * len(spec.legend) + 10) if spec.legend else 0
    if spec.colorbar is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        from .colors import colormap_lut  # validates the name

        cb = spec.colorbar
        colormap_lut(cb.cmap)
        bar_h = max(20, min(avail - legend_h - int(0.16 * avail), 420))
        bar_top = top + max(int(0.08 * avail), (avail - legend_h - bar_h) // 2)
        rect = Rect(x0 + 10, bar_top, 14, bar_h)
        cax = fig.add_axes(rect.fraction(spec.width, spec.height))
        vmin, vmax = (cb.vmin, cb.vmax) if cb.vmax > cb.vmin else (-1.0, 1.0)
        sm = ScalarMappable(Normalize(vmin, vmax), cb.cmap)
        bar = fig.colorbar(sm, cax=cax, extend=cb.extend)
        bar.ax.tick_params(labelsize=fontsize * 0.75)
        bar.set_label(cb.label, fontsize=fontsize * 0.8)
    if spec.legend:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=tuple(c), edgecolor="none", label=lab) for lab, c in spec.legend]
        if spec.colorbar is None:
            loc, anchor = "upper left", (x0 / spec.width, 1.0 - top / spec.height)
        else:
            loc, anchor = "lower left", (x0 / spec.width, 0.02)
        fig.legend(handles=handles, loc=loc, bbox_to_anchor=anchor, frameon=False,
                   fontsize=fontsize * 0.75, handlelength=1.0, borderaxespad=0.2)
