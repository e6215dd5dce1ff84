"""``reldrop3d robustness CKPT``: error under the seven ModelNet-C corruptions, CE and mCE."""

from __future__ import annotations

HELP = ("robustness of a checkpoint to the ModelNet-C corruptions (7 x 5 severities): error "
        "rates, CE, mCE and relative mCE against --reference; CSV, heat map and markdown")


def add_arguments(p) -> None:
    from ..data.corruptions import SEVERITIES, list_corruptions
    from ._options import non_negative_int, torch_device

    p.add_argument("checkpoint", help="a .ckpt written by reldrop3d train (classifier or part segmenter)")
    p.add_argument("--reference", default=None, metavar="CKPT",
                   help="reference checkpoint for CE / mCE / relative mCE (ModelNet-C uses DGCNN); "
                        "without it only raw error rates are reported")
    p.add_argument("--corruptions", nargs="+", default=None, metavar="NAME",
                   help=f"subset of: {' '.join(list_corruptions())} (default: all)")
    p.add_argument("--severities", type=int, nargs="+", default=list(SEVERITIES),
                   help="severities 1..5 (default: all)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the corrupted sets (default: 0)")
    p.add_argument("--num-points", type=int, default=1024,
                   help="points per clean test cloud (ModelNet-C: 1024; default: %(default)s)")
    p.add_argument("--num-shapes", type=int, default=None, help="only the first N test shapes")
    p.add_argument("--split", default="test")
    p.add_argument("--data-root", default=None, help="override the data folder stored in the checkpoint")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", type=torch_device)
    p.add_argument("--cache-dir", default=None,
                   help="folder of the cached corrupted sets (default: $RELDROP3D_CACHE_DIR or "
                        "~/.cache/reldrop3d)")
    p.add_argument("--no-cache", action="store_true", help="generate the corrupted sets in memory only")
    p.add_argument("--out", default=None,
                   help="output folder (default: robustness/ next to the checkpoint)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from pathlib import Path

    from ..eval.robustness import evaluate_robustness, write_robustness_report

    report = evaluate_robustness(
        args.checkpoint, reference=args.reference, corruptions=args.corruptions,
        severities=args.severities, seed=args.seed, num_points=args.num_points,
        split=args.split, data_root=args.data_root, batch_size=args.batch_size,
        device=args.device, cache_dir=args.cache_dir, use_cache=not args.no_cache,
        progress=not args.no_progress, num_shapes=args.num_shapes,
    )
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "robustness"
    print(write_robustness_report(report, out), end="")
    print(f"written to {out}/: robustness.md, robustness.csv, robustness_summary.csv, "
          "robustness.json, robustness.png")
    return 0
