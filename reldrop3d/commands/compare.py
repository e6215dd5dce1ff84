"""``reldrop3d compare``: input-dropout variants x seeds on point clouds, one table (the project's protocol, docs/fidelity.md)."""

from __future__ import annotations

from ..masking import defaults
from ._options import (
    KeyValueArg,
    add_data_arguments,
    data_kwargs_from,
    non_negative_int,
    parse_key_values,
)

HELP = ("train baseline / random dropout / RelDrop point / RelDrop region with the same seeds; "
        "table of accuracy, mean class accuracy and occlusion AUCs (mean +- std) and plots")


def add_arguments(p) -> None:
    add_data_arguments(p)
    g = p.add_argument_group("protocol")
    g.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2],
                   help="training seeds, the same for every variant (default: 0 1 2)")
    g.add_argument("--variants", nargs="+", default=None,
                   help="subset of: baseline random reldrop_point reldrop_region (default: all)")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--quick", action="store_true",
                   help="small budget for a smoke run: 256 points, a small synthetic split "
                        "(330/44/110 shapes), 5 occlusion fractions; explicit options still win")
    g.add_argument("--fractions", type=float, nargs="+", default=None,
                   help="occlusion fractions removed (default: 0 0.1 ... 0.9)")
    g.add_argument("--relevance", default="lrp", help="relevance method (training and occlusion)")
    g = p.add_argument_group("training (shared by all runs)")
    g.add_argument("--model", default="pointnet")
    g.add_argument("--model-kw", nargs="*", default=[], metavar="KEY=VALUE",
                   type=KeyValueArg("--model-kw"))
    g.add_argument("--alpha", type=float, default=defaults.ALPHA)
    g.add_argument("--beta", type=float, default=defaults.BETA)
    g.add_argument("--fill", default="zero")
    g.add_argument("--mask-p", type=float, default=1.0)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--max-steps-per-epoch", type=int, default=None)
    g.add_argument("--accelerator", default="cpu")
    g.add_argument("--out", default="runs/compare", help="output folder (default: %(default)s)")


def config_from_args(args):
    from ..experiments.compare import FRACTIONS, QUICK_SYNTHETIC, VARIANTS, CompareConfig

    data_kwargs = data_kwargs_from(args)
    num_points = args.num_points
    fractions = tuple(args.fractions) if args.fractions else FRACTIONS
    if args.quick:
        if args.data == "synthetic":
            for key, value in QUICK_SYNTHETIC.items():
                data_kwargs.setdefault(key, value)
        if num_points == 1024:  # the default: shrink
            num_points = 256
        if not args.fractions:
            fractions = (0.0, 0.2, 0.4, 0.6, 0.8)
    train = dict(
        data=args.data, data_root=args.data_root, data_kwargs=data_kwargs, num_points=num_points,
        use_normals=args.normals, skip_missing=args.skip_missing, model=args.model, model_kwargs=parse_key_values(args.model_kw, "--model-kw"),
        alpha=args.alpha, beta=args.beta, fill=args.fill, mask_p=args.mask_p,
        relevance_method=args.relevance, batch_size=args.batch_size, lr=args.lr,
        max_steps_per_epoch=args.max_steps_per_epoch, accelerator=args.accelerator,
    )
    return CompareConfig(
        out=args.out, seeds=tuple(args.seeds), variants=tuple(args.variants or VARIANTS),
        epochs=args.epochs, train=train, fractions=fractions, method=args.relevance,
    )


def run(args) -> int:
    import sys

    from ..experiments.compare import run_compare

    cfg = config_from_args(args)
    if len(cfg.seeds) < 3:
        print(f"warning: {len(cfg.seeds)} seed(s); a mean +- spread needs >= 3 seeds",
              file=sys.stderr)
    _, table = run_compare(cfg)
    print(table)
    print(f"written to {cfg.out}/results.md, results.csv, curves.csv, occlusion_curves.png, "
          f"metrics.png")
    return 0
