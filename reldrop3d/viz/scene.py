"""The viewer's scene state, independent of any window: which sample, which view mode, which
target class, which models, and the colours that follow. The interactive viewer
(``viewers/relevance_viewer.py``) and ``reldrop3d render`` both draw what :meth:`ViewerState.panels`
returns, so everything but the window itself is unit-tested here.

Pieces
------
- a *source* of samples (:mod:`reldrop3d.viz.sources`: :class:`DatasetSource`, :class:`FileSource`);
- zero, one or two explainers (:mod:`reldrop3d.viz.explainer`: a model, its relevance method and a
  RelDrop rule);
- here: :class:`ViewerState`, the current sample/mode/target, navigation, cached explanations and
  the per-panel points, colours and captions (:class:`PanelView`), and :func:`views_figure`, which
  lays panel views out as a figure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .arrays import as_points
from .camera import canonical_view
from .colors import (
    DEFAULT_CMAP,
    DEFAULT_PERCENTILE,
    DROPPED_COLOR,
    KEPT_COLOR,
    label_colors,
    mask_colors,
    relevance_colors,
    relevance_scale,
    robust_vmax,
)
from .explainer import Explained, Explainer
from .sources import Sample


class Mode(str, Enum):
    """What the points' colours show."""

    RELEVANCE = "relevance"  # all points, diverging relevance colours
    MASKED = "masked"  # the points RelDrop keeps in relevance colours, dropped ones ghosted
    DROPPED = "dropped"  # all points, dropped ones highlighted
    PARTS = "parts"  # part labels

    def describe(self) -> str:
        return {"relevance": "relevance", "masked": "after RelDrop (dropped points ghosted)",
                "dropped": "dropped points highlighted", "parts": "part labels"}[self.value]


#: Viewer actions (:meth:`ViewerState.apply`) and their keys in the interactive viewer.
ACTIONS = {
    "next_sample": "Right / N",
    "prev_sample": "Left / P",
    "next_target": "T (or Up)",
    "prev_target": "Shift+T (or Down)",
    "cycle_mode": "M",
    "mode:relevance": "1",
    "mode:masked": "2",
    "mode:dropped": "3",
    "mode:parts": "4",
    "target:predicted": "0",
}


def help_text() -> str:
    """The key bindings, one per line."""
    return "\n".join(f"{keys:>18}  {action.replace('_', ' ')}" for action, keys in ACTIONS.items())


@dataclass
class PanelView:
    """What one panel shows (one per explainer, or one without a model).

    ``ghost`` (M, 3) are points drawn in place but translucent (the dropped points in
    :attr:`Mode.MASKED`); ``view`` an ``(elev, azim)`` viewing direction (None: the figure's).
    """

    points: np.ndarray
    colors: np.ndarray
    title: str
    lines: list[str] = field(default_factory=list)
    colorbar: tuple[float, float] | None = None
    legend: list[tuple[str, tuple]] = field(default_factory=list)
    ghost: np.ndarray | None = None
    view: tuple[float, float] | None = None


class ViewerState:
    """Navigation state and scene contents of the relevance viewer.

    Parameters
    ----------
    source : DatasetSource or FileSource (anything with ``len`` and ``[i] -> Sample``)
    explainers : list of Explainer
        0 (show stored relevance / part labels only), 1, or 2 (side by side).
    classes : list of str, optional
        Class names (default: the source's).
    mode : Mode
    cmap : str
    symmetric : bool
    cache_size : int
        Explanations kept (sample, model, target).
    percentile : float, optional
        Scale colours of each shape by this percentile of its ``|R|`` (default 95, see
        :mod:`reldrop3d.viz.colors`; beyond it colours saturate); None or 100 = ``max|R|``.
    """

    def __init__(self, source, explainers: Sequence[Explainer] = (), classes=None,
                 mode: Mode = Mode.RELEVANCE, cmap: str = DEFAULT_CMAP, symmetric: bool = True,
                 cache_size: int = 64, percentile: float | None = DEFAULT_PERCENTILE):
        if len(explainers) > 2:
            raise ValueError(f"at most two models side by side, got {len(explainers)}")
        self.source = source
        self.explainers = list(explainers)
        self.classes = list(classes if classes is not None else getattr(source, "classes", []))
        self.part_names = list(getattr(source, "part_names", []))
        self.cmap, self.symmetric, self.percentile = cmap, symmetric, percentile
        self.index = 0
        self.target: int | None = None  # None = each model's predicted class
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._sample: tuple[int, Sample] | None = None
        self.mode = Mode(mode)
        if self.mode not in self.available_modes():
            raise ValueError(f"mode {self.mode.value!r} is not available for this source/model")

    # --- navigation -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.source)

    def set_index(self, i: int) -> None:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range (0..{len(self) - 1})")
        self.index = i % len(self)
        if self.mode not in self.available_modes():
            self.mode = Mode.RELEVANCE

    def next_sample(self, step: int = 1) -> None:
        self.set_index((self.index + step) % len(self))

    def prev_sample(self) -> None:
        self.next_sample(-1)

    @property
    def num_classes(self) -> int:
        if self.classes:
            return len(self.classes)
        if self.explainers:
            return len(self.explain(0).probs)
        return 0

    def next_target(self, step: int = 1) -> None:
        """Cycle the explained class: predicted -> 0 -> 1 -> ... -> K-1 -> predicted.

        No-op without a model (stored relevance has no target to switch)."""
        k = self.num_classes
        if k == 0 or not self.explainers:
            return
        pos = 0 if self.target is None else self.target + 1  # predicted is position 0
        pos = (pos + step) % (k + 1)
        self.target = None if pos == 0 else pos - 1

    def prev_target(self) -> None:
        self.next_target(-1)

    def available_modes(self) -> list[Mode]:
        modes = [Mode.RELEVANCE]
        if self.explainers:
            modes += [Mode.MASKED, Mode.DROPPED]
        if self.sample().parts is not None:
            modes.append(Mode.PARTS)
        return modes

    def set_mode(self, mode) -> None:
        mode = Mode(mode)
        if mode not in self.available_modes():
            raise ValueError(f"mode {mode.value!r} is not available here "
                             f"(available: {[m.value for m in self.available_modes()]})")
        self.mode = mode

    def cycle_mode(self, step: int = 1) -> None:
        modes = self.available_modes()
        i = modes.index(self.mode) if self.mode in modes else 0
        self.mode = modes[(i + step) % len(modes)]

    # --- contents -------------------------------------------------------------------------
    def sample(self) -> Sample:
        if self._sample is None or self._sample[0] != self.index:
            self._sample = (self.index, self.source[self.index])
        return self._sample[1]

    def explain(self, k: int) -> Explained:
        """Explanation of the current sample by explainer ``k`` (cached)."""
        key = (self.index, k, self.target)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self.explainers[k](self.sample().points, self.target, self.index)
        self._cache[key] = result
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def class_name(self, c: int | None) -> str:
        if c is None:
            return "?"
        return self.classes[c] if 0 <= c < len(self.classes) else str(c)

    def panels(self) -> list[PanelView]:
        """One :class:`PanelView` per explainer (or one for the sample alone)."""
        s = self.sample()
        xyz = as_points(s.points)
        if not self.explainers:
            return [self._panel(xyz, s, s.relevance, None, s.name, [])]
        out = []
        for k, ex in enumerate(self.explainers):
            e = self.explain(k)
            lines = [f"true: {self.class_name(s.label)}"] if s.label is not None else []
            lines += [f"predicted: {self.class_name(e.pred)} ({e.probs[e.pred]:.0%})",
                     f"explained: {self.class_name(e.target)}"
                     + (" (predicted)" if self.target is None else ""),
                     f"RelDrop drops {int(e.mask.sum())}/{len(e.mask)}"]
            out.append(self._panel(xyz, s, e.relevance, e.mask, ex.name, lines))
        return out

    def _panel(self, xyz, s: Sample, relevance, mask, title, lines) -> PanelView:
        mode = self.mode
        if mode is Mode.PARTS:
            ids = np.unique(s.parts)
            legend = [(self.part_names[i] if 0 <= i < len(self.part_names) else f"part {i}",
                       tuple(label_colors(np.array([i]))[0])) for i in ids[:12]]
            return PanelView(xyz, label_colors(s.parts), title, lines, None, legend)
        if mode is Mode.DROPPED:
            legend = [("dropped", DROPPED_COLOR), ("kept", KEPT_COLOR)]
            return PanelView(xyz, mask_colors(mask), title, lines, None, legend)
        if relevance is None:  # no model and no stored relevance: neutral colours, no colour bar
            neutral = relevance_colors(np.zeros(len(xyz)), self.cmap, self.symmetric)
            return PanelView(xyz, neutral, title, lines)
        vmax = None
        if self.percentile is not None and self.symmetric:
            vmax = robust_vmax(relevance, self.percentile)
        colors = relevance_colors(relevance, self.cmap, self.symmetric, vmax)
        scale = relevance_scale(relevance, self.symmetric, vmax)
        if mode is Mode.MASKED:
            keep = ~mask
            if not keep.any():
                raise ValueError("RelDrop dropped every point of this sample; nothing to show")
            return PanelView(xyz[keep], colors[keep], title, lines, scale, ghost=xyz[mask])
        return PanelView(xyz, colors, title, lines, scale)

    @property
    def clipped(self) -> bool:
        """Whether relevance colours saturate before ``max|R|`` (a percentile scale)."""
        return self.symmetric and self.percentile is not None and self.percentile < 100.0

    def view_class(self) -> str | None:
        """The class whose canonical camera shows the current sample: its true class, else the
        first model's prediction, else None."""
        s = self.sample()
        if s.label is not None and self.classes:
            return self.class_name(s.label)
        if self.explainers and self.classes:
            return self.class_name(self.explain(0).pred)
        return None

    def canonical_view(self, up: str = "y", align: str = "pca", elev: float | None = None,
                       azim: float | None = None) -> tuple[float, float]:
        """``(elev, azim)`` of the current sample: the same for every sample of its class
        (:func:`~reldrop3d.viz.camera.canonical_view`)."""
        return canonical_view(self.sample().points[:, :3], self.view_class(), up, align,
                              elev, azim)

    def apply(self, action: str) -> bool:
        """Apply a viewer action (see :data:`ACTIONS`); returns whether the scene changed.

        Actions that the state cannot take here (e.g. ``mode:parts`` without part labels, or a
        target switch without a model) change nothing and return False.
        """
        before = (self.index, self.mode, self.target)
        if action not in ACTIONS:
            raise ValueError(f"unknown viewer action {action!r}; choose from {sorted(ACTIONS)}")
        if action.startswith("mode:"):
            mode = Mode(action.split(":", 1)[1])
            if mode in self.available_modes():
                self.mode = mode
        elif action.startswith("target:"):
            if self.explainers:
                self.target = None
        else:
            getattr(self, action)()
        return before != (self.index, self.mode, self.target)

    def export_ply(self, path):
        """Write the current sample as PLY: relevance colours and the ``relevance`` property
        (of the first model, or the stored one), plus ``dropped`` and ``part`` when known.

        Returns
        -------
        Path, or None when there is no relevance to export (no model, none stored).
        """
        from .export import export_relevance_ply

        s = self.sample()
        if self.explainers:
            e = self.explain(0)
            rel, mask = e.relevance, e.mask
        else:
            rel, mask = s.relevance, None
        if rel is None:
            return None
        return export_relevance_ply(path, s.points, rel, self.cmap, mask=mask, parts=s.parts)

    def status(self) -> str:
        """One line describing the state (window title / console)."""
        tgt = "predicted" if self.target is None else self.class_name(self.target)
        return (f"sample {self.index + 1}/{len(self)} ({self.sample().name}) | "
                f"mode: {self.mode.describe()} | target: {tgt}")


def views_figure(
    views: Sequence[PanelView],
    width: int,
    height: int,
    title: str | None = None,
    columns: int | None = None,
    cmap: str = DEFAULT_CMAP,
    point_size: float | None = None,
    captions: bool = True,
    elev: float = 25.0,
    azim: float = 35.0,
    up: str = "y",
    camera_groups: Sequence[int] | None = None,
    percentile: float | None = DEFAULT_PERCENTILE,
):
    """A :class:`~reldrop3d.viz.figure.FigureSpec` of panel views with one shared camera
    (or one per group of ``camera_groups``, e.g. one per sample in a grid; panels with their own
    ``view`` get their own camera within the group).

    With one colour scale (one relevance panel, or several views of one shape) the colour bar
    shows its values; with several, each panel is normalised on its own and the bar shows
    ``R / s`` with ``s`` the scale of each (the ``percentile`` of ``|R|``, or ``max|R|``). A
    percentile scale draws arrow ends on the bar (values beyond it are clipped). ``point_size``
    None: fitted to the clouds. Legends of the views are merged; ghost points add a "dropped"
    entry.
    """
    from .figure import GHOST_COLOR, Colorbar, FigureSpec, Panel

    if not views:
        raise ValueError("nothing to draw: no panel views")
    columns = columns or len(views)
    cols = min(columns, len(views))
    panels = []
    for v in views:
        caption = v.title
        if captions and v.lines:
            info = ", ".join(v.lines[:2])
            caption = f"{v.title}: {info}" if v.title else info
        panels.append(Panel(v.points, v.colors, title=caption or None, point_size=point_size,
                            view=v.view, ghost_points=v.ghost))
    bars = [tuple(v.colorbar) for v in views if v.colorbar is not None]
    colorbar = None
    clipped = percentile is not None and percentile < 100.0
    extend = "both" if clipped else "neither"
    if bars and len(set(bars)) == 1:
        label = f"relevance (clipped at p{percentile:g} of |R|)" if clipped else "relevance"
        colorbar = Colorbar(cmap, *bars[0], label, extend)
    elif bars:
        scale = f"p{percentile:g} of |R|" if clipped else "max|R|"
        colorbar = Colorbar(cmap, -1.0, 1.0, f"relevance / {scale}", extend)
    legend, seen = [], set()
    for v in views:
        entries = list(v.legend)
        if v.ghost is not None and len(v.ghost):
            entries.append(("dropped", GHOST_COLOR))
        for lab, c in entries:
            if lab not in seen:
                seen.add(lab)
                legend.append((lab, c))
    return FigureSpec(panels, width, height, columns=cols, title=title, colorbar=colorbar,
                      legend=legend, elev=elev, azim=azim, up=up, shared_camera=True,
                      camera_groups=camera_groups)


def mode_views(state: ViewerState, modes: Sequence[Mode], explainer: int = 0) -> list[PanelView]:
    """The current sample seen in several modes (e.g. before/after masking), one model."""
    saved = state.mode
    out = []
    try:
        for m in modes:
            state.set_mode(m)
            view = state.panels()[explainer]
            view.title = Mode(m).describe()
            if out:  # the sample's caption lines only once
                view.lines = []
            out.append(view)
    finally:
        state.mode = saved
    return out
