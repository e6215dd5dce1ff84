"""``reldrop3d render``: relevance pictures without a display (Open3D offscreen or matplotlib)."""

from __future__ import annotations

import copy

from ..masking import defaults
from ..viz.colors import DEFAULT_PERCENTILE
from ._options import KeyValueArg, non_negative_int

HELP = "render relevance / RelDrop masks of samples or point-cloud files to PNG (headless)"

MODES = ("relevance", "masked", "dropped", "parts", "before-after")


def add_arguments(p) -> None:
    src = p.add_argument_group("what to show")
    src.add_argument("--checkpoint", action="append", default=[], metavar="CKPT",
                     help="trained model; give it twice to compare two models side by side")
    src.add_argument("--file", nargs="+", default=[], metavar="PATH",
                     help="point-cloud files (.ply .pcd .off .txt .npy .npz) instead of a data set")
    src.add_argument("--data", default=None, help="data set (default: the checkpoint's)")
    src.add_argument("--split", default="test")
    src.add_argument("--data-kw", nargs="*", default=[], metavar="KEY=VALUE",
                     type=KeyValueArg("--data-kw"),
                     help="data-set arguments overriding the checkpoint's, e.g. num_shapes=100")
    src.add_argument("--index", type=int, nargs="+", default=[0], help="samples (default: 0)")
    src.add_argument("--target", default=None,
                     help="explained class (index or name; default: the predicted class)")
    src.add_argument("--method", default="lrp", help="relevance method (default: %(default)s)")
    src.add_argument("--alpha", type=float, default=defaults.ALPHA, help="RelDrop alpha of the shown mask")
    src.add_argument("--beta", type=float, default=defaults.BETA, help="RelDrop beta of the shown mask")
    src.add_argument("--seed", type=non_negative_int, default=0)
    out = p.add_argument_group("picture")
    out.add_argument("--mode", choices=MODES, default="relevance",
                     help="colouring; before-after = relevance of all points | after RelDrop: "
                          "kept points, dropped ones ghosted in place")
    out.add_argument("--grid", action="store_true", help="all samples in one PNG")
    out.add_argument("--columns", type=int, default=None, help="grid columns")
    out.add_argument("--out", default="outputs/render",
                     help="output: a path ending in .png is the picture itself (one sample, or "
                          "--grid), anything else a folder (default: %(default)s)")
    out.add_argument("--width", type=int, default=None, help="PNG width in pixels")
    out.add_argument("--height", type=int, default=None, help="PNG height in pixels")
    out.add_argument("--backend", choices=("auto", "open3d", "matplotlib"), default="auto")
    out.add_argument("--cmap", default="bwr", help="diverging colour map (default: %(default)s)")
    out.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE,
                     help="colour scale: this percentile of each shape's |R| maps to the ends of "
                          "the map, larger values saturate; 100 = max|R| (default: %(default)s)")
    out.add_argument("--views", type=int, default=None,
                     help="views of each shape from azimuths azim + k*360/VIEWS (default: 2 for "
                          "--mode relevance, else 1)")
    out.add_argument("--align", choices=("pca", "fixed"), default="pca",
                     help="camera per class: azimuth from the shape's main horizontal axis (pca: "
                          "shapes rotated about the up axis are seen alike) or in world "
                          "coordinates (fixed: for aligned data sets) (default: %(default)s)")
    out.add_argument("--elev", type=float, default=None,
                     help="elevation in degrees (default: the class's, see docs/viewers.md)")
    out.add_argument("--azim", type=float, default=None,
                     help="azimuth in degrees (default: the class's)")
    out.add_argument("--up", choices=("y", "z", "x"), default="y", help="up axis of the data")
    out.add_argument("--point-size", type=float, default=None, help="point diameter in pixels")
    out.add_argument("--ply", action="store_true",
                     help="also export each sample as PLY with relevance as a vertex property")


def _target(value, classes) -> int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    if value in classes:
        return classes.index(value)
    raise SystemExit(f"reldrop3d render: unknown class {value!r}; classes: {', '.join(classes)}")


def output_paths(out: str, n_pictures: int) -> tuple:
    """Where the pictures go: ``(folder, file)``.

    ``out`` ending in ``.png`` (any case) is the picture's file (``folder`` is its parent, for PLY
    exports); anything else is a folder and ``file`` is None (one PNG per sample in it).

    Raises
    ------
    SystemExit
        ``out`` is a ``.png`` file but ``n_pictures`` > 1 pictures would be written to it.
    """
    from pathlib import Path

    path = Path(out)
    if path.suffix.lower() != ".png":
        if path.exists() and not path.is_dir():
            raise SystemExit(f"reldrop3d render: --out {out} exists and is not a folder "
                             "(give a folder, or a path ending in .png)")
        return path, None
    if n_pictures > 1:
        raise SystemExit(f"reldrop3d render: --out {out} is one PNG file but {n_pictures} samples "
                         "would each get a picture; add --grid to put them all in that file, or "
                         "give a folder as --out")
    if path.is_dir():
        raise SystemExit(f"reldrop3d render: --out {out} is an existing folder, not a PNG file")
    return path.parent, path


def _views_of_sample(state, mode: str, n_views: int, args) -> list:
    """Panel views of the current sample: per model (or before | after) times ``n_views``
    azimuths, all seen from the sample's canonical (per-class) direction."""
    from ..viz import Mode, mode_views

    if mode == "before-after":
        if not state.explainers:
            raise SystemExit("reldrop3d render: before-after needs a --checkpoint")
        base = mode_views(state, [Mode.RELEVANCE, Mode.MASKED])
        e = state.explain(0)
        base[0].title = f"before: all {len(e.mask)} points"
        base[1].title = f"after RelDrop: {int((~e.mask).sum())} kept, {int(e.mask.sum())} dropped"
    else:
        state.set_mode(mode)
        base = state.panels()
    elev, azim = state.canonical_view(args.up, args.align, args.elev, args.azim)
    out = []
    for k in range(n_views):
        for v in base:
            w = copy.copy(v)
            w.view = (elev, azim + k * 360.0 / n_views)
            if k:  # later views: where they look from (the first keeps the sample's caption)
                turn = "other side" if n_views == 2 else f"turned {k * 360.0 / n_views:.0f} deg"
                # before/after or two models: say which panel it is
                w.title = f"{v.title}, {turn}" if len(base) > 1 else turn
                w.lines = []
            out.append(w)
    return out


def run(args) -> int:
    from ..viz import open_session, render_figure_png, views_figure
    from ._options import parse_key_values

    if args.percentile is not None and not 0.0 < args.percentile <= 100.0:
        raise SystemExit(f"reldrop3d render: --percentile must be in (0, 100], got {args.percentile}")
    n_views = args.views if args.views is not None else (2 if args.mode == "relevance" else 1)
    if not 1 <= n_views <= 8:
        raise SystemExit(f"reldrop3d render: --views must be 1..8, got {n_views}")
    out, out_file = output_paths(args.out, 1 if args.grid else len(args.index))
    state = open_session(args.checkpoint, args.file, args.data, args.split,
                         parse_key_values(args.data_kw, "--data-kw"), args.method, args.alpha,
                         args.beta, args.seed)
    state.cmap, state.percentile = args.cmap, args.percentile
    state.target = _target(args.target, state.classes)
    if state.target is not None and state.num_classes and not 0 <= state.target < state.num_classes:
        raise SystemExit(f"reldrop3d render: target {state.target} out of range")
    n_models = max(1, len(state.explainers))
    per_sample = (2 if args.mode == "before-after" else n_models) * n_views
    written, grid_views, groups = [], [], []
    for i in args.index:
        state.set_index(i)
        name = state.sample().name
        views = _views_of_sample(state, args.mode, n_views, args)
        info = views[0].lines[:2]  # true class, prediction (empty without a model)
        title = f"{name}: {', '.join(info)}" if info else name
        for v in views:
            if args.mode == "before-after":
                v.lines = []
            elif n_models > 1:  # caption: model name and its prediction
                v.lines = [ln for ln in v.lines if ln.startswith("predicted")]
            elif v.lines or v.title == name:  # one model: the caption is the figure's title
                v.title, v.lines = "", []
        if args.ply:
            ply = state.export_ply(out / f"sample_{state.index}.ply")
            written += [ply] if ply is not None else []
        if args.grid:
            first = views[0]
            if n_models > 1 or args.mode == "before-after":
                first.title = f"{name} | {first.title}"
            else:  # compact: "synthetic[1]: bottle, pred. bottle (39%)"
                short = [ln.replace("true: ", "").replace("predicted: ", "pred. ") for ln in info]
                first.title = f"{name}: {', '.join(short)}" if short else name
            grid_views += views
            groups += [state.index] * len(views)
            continue
        spec = views_figure(views, args.width or 330 * per_sample + 110, args.height or 400,
                            title=title, columns=per_sample, cmap=args.cmap,
                            point_size=args.point_size, up=args.up,
                            percentile=state.percentile if state.clipped else None)
        written.append(render_figure_png(
            spec, out_file or out / f"sample_{state.index}_{args.mode}.png", args.backend))
    if args.grid:
        # about four panels a row, whole samples per row
        cols = args.columns or per_sample * max(1, min(len(args.index), 4 // per_sample))
        rows = -(-len(grid_views) // cols)
        title = {"relevance": "LRP relevance", "before-after": "before | after RelDrop"}.get(
            args.mode, args.mode)
        spec = views_figure(grid_views, args.width or 300 * cols + 110,
                            args.height or 290 * rows + 30, title=title, columns=cols,
                            cmap=args.cmap, point_size=args.point_size, up=args.up,
                            camera_groups=groups,  # one camera per sample (and view)
                            percentile=state.percentile if state.clipped else None)
        written.append(render_figure_png(spec, out_file or out / f"grid_{args.mode}.png",
                                         args.backend))
    for path in written:
        print(path)
    return 0
