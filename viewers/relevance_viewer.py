#!/usr/bin/env python
"""Interactive relevance viewer (Open3D GUI).

Open a checkpoint with its data set, two checkpoints side by side, or point-cloud files::

    python viewers/relevance_viewer.py --checkpoint runs/pointnet/best.ckpt
    python viewers/relevance_viewer.py --checkpoint base/best.ckpt --checkpoint reldrop/best.ckpt
    python viewers/relevance_viewer.py --file chair.ply table.off --checkpoint best.ckpt
    python viewers/relevance_viewer.py --file exported_relevance.ply   # stored relevance

Keys: Right/N next sample, Left/P previous, T / Shift+T next / previous explained class,
0 explain the predicted class, M cycle the view (relevance, RelDrop-masked, dropped points,
part labels), 1-4 pick a view, R reset the camera, S save a screenshot, E export PLY, H help.

All state lives in :class:`reldrop3d.viz.ViewerState` (unit-tested without a window); this
file only draws it and maps keys and widgets to its actions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from reldrop3d.masking import defaults  # noqa: E402
from reldrop3d.viz import (  # noqa: E402
    ACTIONS,
    DEFAULT_PERCENTILE,
    GHOST_ALPHA,
    GHOST_COLOR,
    Colorbar,
    FigureSpec,
    Mode,
    Panel,
    ViewerState,
    compose,
    fit_camera,
    help_text,
    open_session,
    point_diameter,
    save_png,
    srgb_encode,
)

PANEL_WIDTH = 300  # px, the control panel on the right
#: The GUI draws flat (unlit) points (lit sphere meshes are too slow on CPU renderers), so its
#: background is light grey, not the pictures' white: zero relevance (white) stays visible.
VIEWER_BACKGROUND = (0.84, 0.84, 0.84)
MAX_LEGEND = 12


def colorbar_image(cmap: str, vmin: float, vmax: float, label: str,
                   height: int = 260) -> np.ndarray:
    """A vertical colour bar as an RGB uint8 image (height, ~90, 3), drawn with matplotlib."""
    spec = FigureSpec([Panel(np.zeros((1, 3)), np.ones((1, 3)))], 32 + 90, height,
                      colorbar=Colorbar(cmap, vmin, vmax, label))
    img = compose(spec, lambda fig, ax, panel, rect: ax.set_visible(False))
    return np.ascontiguousarray(img[:, -90:])


class RelevanceViewer:
    """Thin Open3D GUI layer over a :class:`ViewerState`."""

    def __init__(self, state: ViewerState, width: int = 1280, height: int = 760,
                 point_size: float | None = None, out_dir: Path = Path("outputs/viewer")):
        import open3d as o3d
        from open3d.visualization import gui, rendering

        self.o3d, self.gui, self.rendering = o3d, gui, rendering
        self.state, self.point_size, self.out_dir = state, point_size, out_dir
        self.active = 0
        self._last_view = None
        self._fit_pending = True  # fit the camera once the widgets have their size
        app = gui.Application.instance
        self.window = app.create_window("reldrop3d relevance viewer", width, height)
        w = self.window
        em = w.theme.font_size
        n = max(1, len(state.explainers))
        self.widgets = []
        for k in range(n):
            sw = gui.SceneWidget()
            sw.scene = rendering.Open3DScene(w.renderer)
            sw.scene.set_background([*srgb_encode(VIEWER_BACKGROUND), 1.0])
            sw.scene.view.set_post_processing(False)
            sw.set_on_mouse(self._make_mouse_handler(k))
            sw.set_on_key(self._on_key)
            w.add_child(sw)
            self.widgets.append(sw)

        self.panel = gui.Vert(0.4 * em, gui.Margins(0.6 * em, 0.6 * em, 0.6 * em, 0.6 * em))
        self.status = gui.Label("")
        self.panel.add_child(self.status)
        nav = gui.Horiz(0.3 * em)
        for text, action in (("< prev", "prev_sample"), ("next >", "next_sample")):
            b = gui.Button(text)
            b.set_on_clicked(lambda a=action: self._do(a))
            nav.add_child(b)
        self.panel.add_child(nav)

        self.panel.add_child(gui.Label("view"))
        self.mode_box = gui.Combobox()
        for m in Mode:
            self.mode_box.add_item(m.describe())
        self.mode_box.set_on_selection_changed(self._on_mode_selected)
        self.panel.add_child(self.mode_box)

        self.panel.add_child(gui.Label("explained class"))
        self.target_box = gui.Combobox()
        self.target_box.add_item("predicted")
        for c in state.classes:
            self.target_box.add_item(c)
        self.target_box.set_on_selection_changed(self._on_target_selected)
        self.target_box.enabled = bool(state.explainers)
        self.panel.add_child(self.target_box)

        self.info = [gui.Label("") for _ in range(n)]
        for lab in self.info:
            self.panel.add_child(lab)
        self.colorbar = gui.ImageWidget(o3d.geometry.Image(colorbar_image(state.cmap, -1, 1, "")))
        self.panel.add_child(self.colorbar)
        self.legend = []  # one coloured label per entry (the GUI font has no square glyph)
        for _ in range(MAX_LEGEND):
            lab = gui.Label("")
            lab.visible = False
            self.panel.add_child(lab)
            self.legend.append(lab)
        self._shift = False

        row = gui.Horiz(0.3 * em)
        for text, fn in (("screenshot", self.screenshot), ("export PLY", self.export_ply),
                         ("reset camera", self.reset_camera)):
            b = gui.Button(text)
            b.set_on_clicked(fn)
            row.add_child(b)
        self.panel.add_child(row)
        self.panel.add_child(gui.Label(help_text()))
        w.add_child(self.panel)
        w.set_on_layout(self._on_layout)
        w.set_on_key(self._on_key)
        w.set_on_tick_event(self._sync_cameras)
        self.refresh(reset_camera=True)

    # --- layout and drawing ---------------------------------------------------------------
    def _on_layout(self, ctx):
        r = self.window.content_rect
        scene_w = max(1, r.width - PANEL_WIDTH)
        each = scene_w // len(self.widgets)
        for k, sw in enumerate(self.widgets):
            sw.frame = self.gui.Rect(r.x + k * each, r.y, each, r.height)
        self.panel.frame = self.gui.Rect(r.x + scene_w, r.y, PANEL_WIDTH, r.height)
        if self._fit_pending:
            self._fit_pending = False
            self.refresh(reset_camera=True)  # point size and camera for the real widget size

    def refresh(self, reset_camera: bool = False) -> None:
        """Redraw every panel from the state."""
        o3d, rendering = self.o3d, self.rendering
        st = self.state
        views = st.panels()
        size = self._point_size()
        ghost_rgb = ((1.0 - GHOST_ALPHA) * np.asarray(VIEWER_BACKGROUND)
                     + GHOST_ALPHA * np.asarray(GHOST_COLOR))
        for sw, view, info in zip(self.widgets, views, self.info):
            sw.scene.clear_geometry()
            layers = [("cloud", view.points, view.colors, size)]
            if view.ghost is not None and len(view.ghost):  # dropped points, in place
                layers.append(("ghost", view.ghost, np.tile(ghost_rgb, (len(view.ghost), 1)),
                               0.5 * size))
            for name, xyz, rgb, px in layers:
                pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
                pc.colors = o3d.utility.Vector3dVector(rgb)
                mat = rendering.MaterialRecord()
                mat.shader = "defaultUnlit"
                mat.point_size = px
                sw.scene.add_geometry(name, pc, mat)
            info.text = "\n".join([view.title, *view.lines])
        if reset_camera:
            self.reset_camera()
        self.status.text = st.status().replace(" | ", "\n")
        self.mode_box.selected_index = list(Mode).index(st.mode)
        self.target_box.selected_index = 0 if st.target is None else st.target + 1
        bars = [v.colorbar for v in views if v.colorbar is not None]
        if bars:
            vmin, vmax = bars[0] if len(bars) == 1 else (-1.0, 1.0)
            label = "relevance" if len(bars) == 1 else "relevance / max|R|"
            bar = colorbar_image(st.cmap, vmin, vmax, label)
            self.colorbar.update_image(o3d.geometry.Image(bar))
        self.colorbar.visible = bool(bars)
        entries = views[0].legend[:MAX_LEGEND]
        for k, lab in enumerate(self.legend):
            lab.visible = k < len(entries)
            if k < len(entries):
                name, rgb = entries[k]
                lab.text = f"  {name}"
                lab.text_color = self.gui.Color(*map(float, rgb[:3]))
        self.window.set_needs_layout()
        self.window.post_redraw()

    def _point_size(self) -> float:
        """``--point-size``, or the size ``reldrop3d render`` fits to the cloud and the view."""
        if self.point_size is not None:
            return float(self.point_size)
        sw = self.widgets[0]
        w, h = max(64, sw.frame.width), max(64, sw.frame.height)
        pts = self.state.sample().points[:, :3]
        return point_diameter(pts, fit_camera(pts, w, h, fov_deg=40.0))

    def reset_camera(self) -> None:
        """The same view as ``reldrop3d render``: the sample's class's canonical direction,
        fitted bounding sphere, in every panel."""
        pts = self.state.sample().points[:, :3]
        elev, azim = self.state.canonical_view()
        for sw in self.widgets:
            w, h = max(1, sw.frame.width), max(1, sw.frame.height)
            cam = fit_camera(pts, w, h, elev=elev, azim=azim, fov_deg=40.0)
            dist = float(np.linalg.norm(np.subtract(cam.eye, cam.center)))
            sw.scene.camera.set_projection(cam.fov_deg, w / h, 0.01 * dist, 100.0 * dist,
                                           self.rendering.Camera.FovType.Vertical)
            sw.look_at(np.asarray(cam.center, np.float32), np.asarray(cam.eye, np.float32),
                       np.asarray(cam.up, np.float32))
        self._last_view = None

    # --- events ---------------------------------------------------------------------------
    def _do(self, action: str) -> None:
        if self.state.apply(action):
            self.refresh(reset_camera=action in ("next_sample", "prev_sample"))

    def _on_mode_selected(self, text, index):
        self._do(f"mode:{list(Mode)[index].value}")
        self.refresh()  # snap the box back if the mode is not available

    def _on_target_selected(self, text, index):
        self.state.target = None if index == 0 else index - 1
        self.refresh()

    def _on_key(self, event):
        gui = self.gui
        k, K = event.key, gui.KeyName
        if k in (K.LEFT_SHIFT, K.RIGHT_SHIFT):
            self._shift = event.type == gui.KeyEvent.DOWN
            return gui.Widget.EventCallbackResult.HANDLED
        if event.type != gui.KeyEvent.DOWN:
            return gui.Widget.EventCallbackResult.IGNORED
        if k == K.T and self._shift:
            self._do("prev_target")
            return gui.Widget.EventCallbackResult.HANDLED
        keys = {K.RIGHT: "next_sample", K.N: "next_sample", K.LEFT: "prev_sample",
                K.P: "prev_sample", K.T: "next_target", K.UP: "next_target",
                K.DOWN: "prev_target", K.M: "cycle_mode", K.ONE: "mode:relevance",
                K.TWO: "mode:masked", K.THREE: "mode:dropped", K.FOUR: "mode:parts",
                K.ZERO: "target:predicted"}
        if k in keys:
            self._do(keys[k])
        elif k == K.R:
            self.reset_camera()
        elif k == K.S:
            self.screenshot()
        elif k == K.E:
            self.export_ply()
        elif k == K.H:
            print(help_text())
        else:
            return gui.Widget.EventCallbackResult.IGNORED
        return gui.Widget.EventCallbackResult.HANDLED

    def _make_mouse_handler(self, k: int):
        def handler(event):
            self.active = k
            return self.gui.Widget.EventCallbackResult.IGNORED  # default camera controls

        return handler

    def _sync_cameras(self) -> bool:
        """Copy the camera of the panel being dragged to the other panel (side-by-side)."""
        if len(self.widgets) < 2:
            return False
        src = self.widgets[self.active].scene.camera
        view = np.asarray(src.get_view_matrix())
        if self._last_view is not None and np.allclose(view, self._last_view):
            return False
        self._last_view = view
        for k, sw in enumerate(self.widgets):
            if k != self.active:
                sw.scene.camera.copy_from(src)
                sw.force_redraw()
        return True

    # --- outputs --------------------------------------------------------------------------
    def screenshot(self) -> None:
        """Save each panel's current view as PNG under ``out_dir``."""
        for k, sw in enumerate(self.widgets):
            path = self.out_dir / f"view_{self.state.index}_{self.state.mode.value}_{k}.png"

            def done(image, path=path):
                save_png(np.asarray(image)[..., :3], path)
                print(f"saved {path}")

            sw.scene.scene.render_to_image(done)

    def export_ply(self) -> None:
        path = self.state.export_ply(self.out_dir / f"sample_{self.state.index}.ply")
        print(f"saved {path}" if path else "no relevance to export (no model, none stored)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="keys:\n" + help_text())
    p.add_argument("--checkpoint", action="append", default=[], help="model (twice: side by side)")
    p.add_argument("--file", nargs="+", default=[], help="point-cloud files instead of a data set")
    p.add_argument("--data", default=None, help="data set (default: the checkpoint's)")
    p.add_argument("--split", default="test")
    p.add_argument("--data-kw", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--index", type=int, default=0, help="first sample")
    p.add_argument("--method", default="lrp")
    p.add_argument("--alpha", type=float, default=defaults.ALPHA)
    p.add_argument("--beta", type=float, default=defaults.BETA)
    p.add_argument("--cmap", default="bwr")
    p.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE,
                   help="colour scale: this percentile of each shape's |R| maps to the ends of the "
                        "map; 100 = max|R| (default: %(default)s)")
    p.add_argument("--point-size", type=float, default=None,
                   help="point size in pixels (default: fitted to the cloud, as in render)")
    p.add_argument("--size", type=int, nargs=2, default=(1280, 760), metavar=("W", "H"))
    p.add_argument("--out", default="outputs/viewer", help="screenshots and PLY exports")
    p.add_argument("--actions", nargs="*", default=[], choices=sorted(ACTIONS),
                   help="apply these actions at start (scripted use)")
    p.add_argument("--screenshot-and-exit", metavar="PNG", default=None,
                   help="save the window's panels after start-up and quit (smoke test)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from open3d.visualization import gui

    from reldrop3d.utils.options import parse_key_values

    args = parse_args(argv)
    state = open_session(args.checkpoint, args.file, args.data, args.split,
                         parse_key_values(args.data_kw), args.method, args.alpha, args.beta)
    state.cmap, state.percentile = args.cmap, args.percentile
    state.set_index(args.index)
    for action in args.actions:
        state.apply(action)
    app = gui.Application.instance
    app.initialize()
    viewer = RelevanceViewer(state, *args.size, point_size=args.point_size,
                             out_dir=Path(args.out))
    if args.screenshot_and_exit:
        _screenshot_and_exit(app, viewer, Path(args.screenshot_and_exit))
    app.run()
    return 0


def _screenshot_and_exit(app, viewer: RelevanceViewer, path: Path) -> None:
    """Render a few frames, save each panel's image side by side to ``path`` and close."""
    images: dict[int, np.ndarray] = {}
    start = time.time()

    def tick():
        viewer._sync_cameras()
        if time.time() - start < 2.0 or len(images) == len(viewer.widgets):
            if len(images) == len(viewer.widgets):
                save_png(np.concatenate([images[k] for k in sorted(images)], axis=1), path)
                print(f"saved {path}")
                _grab_window(path.with_name(path.stem + "_window.png"))
                # Open3D 0.20 + Filament's Vulkan back end on Mesa llvmpipe segfaults while
                # tearing down any GUI window (even an empty one); everything is saved, so leave
                # without the teardown.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
            return False
        for k, sw in enumerate(viewer.widgets):
            if k not in images:
                sw.scene.scene.render_to_image(
                    lambda img, k=k: images.__setitem__(k, np.asarray(img)[..., :3].copy()))
        return True

    viewer.window.set_on_tick_event(tick)


def _grab_window(path: Path) -> None:
    """Save the whole X display (panel and widgets included) when Pillow can grab it."""
    import os

    from PIL import ImageGrab

    try:
        ImageGrab.grab(xdisplay=os.environ.get("DISPLAY")).convert("RGB").save(path)
        print(f"saved {path}")
    except OSError as err:  # no X display, or Pillow built without XCB
        print(f"could not grab the window: {err}")


if __name__ == "__main__":
    sys.exit(main())
