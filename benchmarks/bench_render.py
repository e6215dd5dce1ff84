"""Headless rendering cost: one 1,024-point cloud to PNG, Open3D offscreen vs matplotlib.

Reports the one-off start-up of the Open3D back end (subprocess probe + renderer creation + first
frame) and then per-picture times measured side by side (interleaved) in one run:

- ``render_relevance_png`` end to end (colours, layout, colour bar, PNG written) per back end;
- the points-only part (Open3D frame vs matplotlib scatter of the same panel).

    python benchmarks/bench_render.py [--points 1024] [--size 640 512] [--repeats 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from common import environment, print_table, time_interleaved  # noqa: E402

from reldrop3d.viz import relevance_figure, render_relevance_png  # noqa: E402
from reldrop3d.viz.figure import compose, layout_figure  # noqa: E402
from reldrop3d.viz.render_mpl import draw_points_mpl  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=1024)
    p.add_argument("--size", type=int, nargs=2, default=(640, 512))
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(args.points, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    rel = rng.normal(size=args.points)
    w, h = args.size
    out = Path(tempfile.mkdtemp(prefix="bench_render_"))
    print(f"render {args.points} points to a {w}x{h} PNG, {environment()}")

    from reldrop3d.viz.render_o3d import open3d_status, render_panel_o3d

    t0 = time.perf_counter()
    ok, why = open3d_status()
    probe_s = time.perf_counter() - t0
    fns = {"matplotlib: PNG end to end": lambda: render_relevance_png(
        pts, rel, out / "mpl.png", title="bench", backend="matplotlib", width=w, height=h)}
    spec = relevance_figure(pts, rel, width=w, height=h)
    layout_figure(spec)
    panel = spec.panels[0]
    fns["matplotlib: points only"] = lambda: compose(spec, draw_points_mpl)
    if ok:
        t0 = time.perf_counter()
        render_relevance_png(pts, rel, out / "o3d.png", backend="open3d", width=w, height=h)
        first_s = time.perf_counter() - t0
        print(f"open3d start-up: probe {probe_s:.2f} s (subprocess), first picture {first_s:.2f} s")
        fns["open3d: PNG end to end"] = lambda: render_relevance_png(
            pts, rel, out / "o3d.png", title="bench", backend="open3d", width=w, height=h)
        fns["open3d: frame only"] = lambda: render_panel_o3d(panel)
    else:
        print(f"open3d unavailable ({why}); matplotlib only")
    times = time_interleaved(fns, repeats=args.repeats, warmup=1)
    print_table("per picture after start-up (median)", times, "matplotlib: PNG end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
