"""``reldrop3d bias-benchmark``: baseline vs RelDrop vs guidance losses under background bias."""

from __future__ import annotations

import argparse

from ._options import KeyValueArg, non_negative_int, parse_key_values, torch_device

HELP = "train baseline, RelDrop and guidance losses on class-biased clutter; unbiased-test table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("experiment")
    g.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="unbiased (reference trained without the shortcut), baseline, reldrop "
                        "and/or guidance losses (rrr gradmask actdiff energy l1 ppce isnet); "
                        "default: all")
    g.add_argument("--seeds", type=int, default=3, help="number of seeds 0..S-1 (default: 3)")
    g.add_argument("--first-seed", type=non_negative_int, default=0,
                   help="seeds are FIRST..FIRST+S-1 (split one benchmark over processes)")
    g.add_argument("--quick", action="store_true",
                   help="tiny setting (128 points, 330 training shapes, 4 epochs) for a smoke run")
    g.add_argument("--weight", nargs="*", default=[], metavar="METHOD=W",
                   type=KeyValueArg("--weight"),
                   help="guidance weights in CE + W * loss, e.g. rrr=0.1 isnet=1")
    g = p.add_argument_group("data and training (override the defaults or --quick)")
    g.add_argument("--data", choices=["synthetic", "digits"], default="synthetic",
                   help="point clouds with a class-placed clutter blob, or scikit-learn digits "
                        "with a class-placed corner patch (model small_cnn)")
    g.add_argument("--image-size", type=int, default=None, help="digits: upsampled size (32)")
    g.add_argument("--model", default=None, help="registered model (default: pointnet)")
    g.add_argument("--num-points", type=int, default=None)
    g.add_argument("--clutter-points", type=int, default=None, help="points of the clutter blob")
    g.add_argument("--train-shapes", type=int, default=None)
    g.add_argument("--test-shapes", type=int, default=None)
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--alpha", type=float, default=None, help="RelDrop randomness")
    g.add_argument("--beta", type=float, default=None, help="RelDrop aggressiveness")
    g.add_argument("--device", default="cpu", type=torch_device, help="cpu or cuda (default: %(default)s)")
    g = p.add_argument_group("output")
    g.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                   help="train nothing: combine the results.json of earlier runs (e.g. one per "
                        "--first-seed) into one table in --out")
    g.add_argument("--out", default="runs/bias_benchmark",
                   help="folder for table.md and results.json (default: %(default)s)")


def config_from_args(args):
    """The :class:`~reldrop3d.experiments.bias.BiasBenchmarkConfig` of the parsed ``args``."""
    from ..experiments.bias import DEFAULT_WEIGHTS, BiasBenchmarkConfig
    from ..guidance import GUIDANCE

    if args.seeds < 1:
        raise SystemExit(f"bias-benchmark: --seeds must be >= 1, got {args.seeds}")
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in parse_key_values(args.weight, "--weight").items():
        if key not in GUIDANCE:
            raise SystemExit(f"bias-benchmark: --weight {key}=...: no guidance loss {key!r}; "
                             f"choose from {GUIDANCE.names()}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SystemExit(f"bias-benchmark: --weight {key}={value!r} is not a number")
        weights[key] = float(value)
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    kw = dict(seeds=seeds, weights=weights, device=args.device, data=args.data)
    if args.methods:
        kw["methods"] = tuple(args.methods)
    for name in ("model", "num_points", "clutter_points", "train_shapes", "test_shapes", "epochs",
                 "batch_size", "lr", "alpha", "beta", "image_size"):
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
    try:
        return BiasBenchmarkConfig.quick(**kw) if args.quick else BiasBenchmarkConfig(**kw)
    except ValueError as err:
        raise SystemExit(f"bias-benchmark: {err}") from None


def run(args) -> int:
    import json
    from pathlib import Path

    from ..experiments.bias import format_table, run_bias_benchmark
    from ..utils.io import atomic_write_text

    out = Path(args.out)
    if args.merge:
        results = []
        for folder in args.merge:
            path = Path(folder) / "results.json"
            try:
                results += json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise SystemExit(f"bias-benchmark: cannot read {path}: {err}") from None
        out.mkdir(parents=True, exist_ok=True)
        table = format_table(results) + f"\nMerged from: {', '.join(args.merge)}\n"
    else:
        cfg = config_from_args(args)
        out.mkdir(parents=True, exist_ok=True)
        results = run_bias_benchmark(cfg, log=lambda line: print(line, flush=True))
        table = format_table(results, cfg)
    atomic_write_text(out / "table.md", table)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    print()
    print(table)
    print(f"wrote {out / 'table.md'} and {out / 'results.json'}")
    return 0
