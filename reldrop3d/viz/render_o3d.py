"""Open3D back end: Filament's offscreen renderer (headless; CPU through Mesa llvmpipe/Vulkan).

Creating the renderer can crash the whole process (segfault) on machines with a broken GL/EGL or
Vulkan stack, so :func:`open3d_status` first renders a tiny scene in a subprocess (once per
process, result cached) and the renderer is only created in-process when that worked. Renderers
are expensive to create (~0.5 s plus shader start-up) and Filament aborts at exit when two
renderers have lived in one process, so there is exactly one per process: its canvas grows (by
replacing it) to the largest viewport asked for, and smaller viewports are rendered into the
canvas's top-left corner (same intrinsics) and cropped.

Points are square, flat (unlit) points of the panel's size with the matplotlib back end's depth cue
(:func:`panel_point_colors`): Filament has no per-pixel sphere shading for point sprites, and
lit sphere meshes took ~20 s a frame on llvmpipe here, so the lit-sphere look is the matplotlib
back end's (the default).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys

import numpy as np

from .figure import Panel, Rect
from .shading import depth_cue

PROBE_TIMEOUT_S = 180
#: Ghost points are drawn at this fraction of the point size (opaque, see panel_point_colors).
GHOST_SCALE = 0.5
_CANVAS_STEP = 64  # canvas sizes are rounded up to this, so similar sizes share a renderer
_state: dict[str, object] = {"renderer": None, "size": (0, 0)}

# Renders a red point in the middle of a white 64x48 image (two blue ones off-centre: Filament
# needs a non-degenerate bounding box to place its clipping planes) and checks the pixel.
_PROBE = r"""
import numpy as np, open3d as o3d
from open3d.visualization import rendering
r = rendering.OffscreenRenderer(64, 48)
r.scene.set_background([1, 1, 1, 1])
r.scene.view.set_post_processing(False)
xyz = np.array([[0.0, 0, 0], [-1, -1, -1], [1, 1, 1]])
pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
pc.colors = o3d.utility.Vector3dVector(np.array([[1.0, 0, 0], [0, 0, 1], [0, 0, 1]]))
m = rendering.MaterialRecord(); m.shader = "defaultUnlit"; m.point_size = 8
r.scene.add_geometry("p", pc, m)
r.setup_camera(40.0, [0, 0, 0], [0, 0, 6], [0, 1, 0])
img = np.asarray(r.render_to_image())
px = img[24, 32]
assert img.shape == (48, 64, 3), img.shape
assert px[0] > 200 and px[1] < 60 and px[2] < 60, f"centre pixel {px.tolist()} is not red"
print("RELDROP3D_PROBE_OK")
"""


@functools.lru_cache(maxsize=1)
def open3d_status() -> tuple[bool, str]:
    """Whether Open3D's offscreen renderer works here, and why not.

    Returns
    -------
    (ok, reason) : (bool, str)
        ``reason`` is a one-line explanation (empty when ``ok``).
    """
    try:
        import open3d  # noqa: F401
    except ImportError as err:
        return False, f"open3d is not installed ({err}); pip install open3d"
    except OSError as err:  # missing system libraries (libGL, libEGL, libusb)
        return False, (f"open3d cannot load a system library ({err}); "
                       "run scripts/install_system_deps.sh")
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"the Open3D offscreen renderer probe timed out after {PROBE_TIMEOUT_S} s"
    if proc.returncode == 0 and "RELDROP3D_PROBE_OK" in proc.stdout:
        return True, ""
    tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode < 0:
        how = f"crashed with signal {-proc.returncode}"
    else:
        how = f"failed (exit {proc.returncode})"
    return False, f"the Open3D offscreen renderer {how} in a probe: {tail[:200]}"


@contextlib.contextmanager
def _quiet_fds():
    """Silence Filament's start-up chatter on the process's stdout/stderr file descriptors."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
    except (OSError, ValueError):  # no real fds (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def get_renderer(width: int, height: int):
    """The process's ``OffscreenRenderer``, with a canvas of at least ``width`` x ``height``.

    Returns
    -------
    (renderer, (canvas_width, canvas_height))

    Raises
    ------
    RuntimeError
        The probe says the renderer does not work here.
    """
    cw, ch = _state["size"]
    if _state["renderer"] is not None and width <= cw and height <= ch:
        return _state["renderer"], (cw, ch)
    ok, why = open3d_status()
    if not ok:
        raise RuntimeError(f"Open3D renderer unavailable: {why}")
    import gc

    import open3d as o3d
    from open3d.visualization import rendering

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    size = tuple(-(-max(int(a), int(b)) // _CANVAS_STEP) * _CANVAS_STEP
                 for a, b in ((width, cw), (height, ch)))
    _state["renderer"] = None  # destroy the old one before the new one exists
    gc.collect()
    with _quiet_fds():
        renderer = rendering.OffscreenRenderer(*size)
    renderer.scene.set_background([1.0, 1.0, 1.0, 1.0])
    renderer.scene.view.set_post_processing(False)  # exact colours: no tone mapping, no FXAA
    _state["renderer"], _state["size"] = renderer, size
    return renderer, size


def srgb_encode(rgb) -> list[float]:
    """Filament decodes the background colour as sRGB (point colours are passed through), so
    encode it first: the output pixel is then exactly ``rgb``."""
    v = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    enc = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)
    return [float(x) for x in enc]


def panel_point_colors(panel: Panel, background=(1.0, 1.0, 1.0)):
    """Per-point colours for a renderer without per-pixel shading (Open3D's unlit points).

    The panel's colours times :func:`~reldrop3d.viz.shading.depth_cue` (far points darker, as
    in the matplotlib back end), and the ghost points' colour blended with the background at
    ``panel.ghost_alpha`` (opaque points cannot be translucent; drawn smaller, so the points
    behind them show through).

    Returns
    -------
    colors : ndarray (N, 3)
    ghost_colors : ndarray (M, 3) or None
    """
    depth = panel.camera.project(panel.all_points())[1]
    cue = depth_cue(depth)
    n = len(panel.points)
    colors = np.clip(panel.colors * cue[:n, None], 0.0, 1.0)
    if panel.ghost_points is None or not len(panel.ghost_points):
        return colors, None
    a = float(panel.ghost_alpha)
    ghost = (1.0 - a) * np.asarray(background, float)[:3] + a * np.asarray(panel.ghost_color, float)
    return colors, np.tile(ghost, (len(panel.ghost_points), 1))


def render_panel_o3d(panel: Panel, background=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Render the points of ``panel`` through its camera: RGB uint8 (height, width, 3).

    Round points of ``panel.point_size`` pixels, depth-cued colours (:func:`panel_point_colors`)
    and ghost points at ``GHOST_SCALE`` of the size.
    """
    import open3d as o3d
    from open3d.visualization import rendering

    cam = panel.camera
    renderer, (cw, ch) = get_renderer(cam.width, cam.height)
    colors, ghost_colors = panel_point_colors(panel, background)
    scene = renderer.scene
    scene.set_background([*srgb_encode(background[:3]), 1.0])
    scene.clear_geometry()
    layers = [("cloud", panel.points, colors, 1.0)]
    if ghost_colors is not None:
        layers.append(("ghost", panel.ghost_points, ghost_colors, GHOST_SCALE))
    for name, xyz, rgb, scale in layers:
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
        pc.colors = o3d.utility.Vector3dVector(rgb)
        material = rendering.MaterialRecord()
        material.shader = "defaultUnlit"
        material.point_size = float(panel.point_size) * scale
        scene.add_geometry(name, pc, material)
    # same intrinsics on the bigger canvas: the viewport is its top-left corner
    renderer.setup_camera(cam.intrinsic(), cam.extrinsic(), cw, ch)
    image = np.asarray(renderer.render_to_image())[: cam.height, : cam.width]
    scene.clear_geometry()
    return np.ascontiguousarray(image[..., :3])


def draw_points_o3d(fig, ax, panel: Panel, rect: Rect) -> np.ndarray:
    """:data:`~reldrop3d.viz.figure.DrawFn` for :func:`~reldrop3d.viz.figure.compose`."""
    return render_panel_o3d(panel, ax.get_facecolor())
