"""``reldrop3d train``: train a model with optional RelDrop / random input dropout."""

from __future__ import annotations

import json

from ._options import add_data_arguments, data_kwargs_from, parse_key_values

HELP = "train a point-cloud model (RelDrop, random dropout or plain)"


def add_arguments(p) -> None:
    add_data_arguments(p)
    g = p.add_argument_group("model")
    g.add_argument("--model", default="pointnet", help="registered model name (default: %(default)s)")
    g.add_argument("--model-kw", nargs="*", default=[], metavar="KEY=VALUE", help="model arguments")
    g.add_argument("--task", choices=["cls", "partseg"], default="cls")
    g = p.add_argument_group("input dropout")
    g.add_argument("--augment", choices=["none", "random", "reldrop"], default="reldrop")
    g.add_argument("--alpha", type=float, default=0.5, help="RelDrop randomness (default: %(default)s)")
    g.add_argument("--beta", type=float, default=0.5, help="RelDrop aggressiveness (default: %(default)s)")
    g.add_argument("--fill", default="zero", help="what dropped points become (zero|first|centroid|...)")
    g.add_argument("--mask-mode", default="point", help="RelDrop mode: point (paper) or region")
    g.add_argument("--mask-p", type=float, default=1.0, help="share of each batch that is masked")
    g.add_argument("--relevance", default="lrp", help="relevance method for RelDrop (default: lrp)")
    g.add_argument("--lrp-start", default="log_softmax", choices=["logit", "onehot", "log_softmax"],
                   help="where RelDrop's relevance starts (default: %(default)s, the official code's)")
    g.add_argument("--lrp-composite", default="epsilon-flat",
                   help="LRP rules: epsilon-flat|epsilon|reldrop-official|reldrop-official-2d|... "
                        "(default: %(default)s)")
    g = p.add_argument_group("explanation guidance (reldrop3d.guidance)")
    g.add_argument("--guidance", default=None,
                   help="guidance loss: rrr|gradmask|actdiff|energy|l1|ppce|isnet (needs a data "
                        "set with 'roi', e.g. --data-kw clutter=biased); combinable with --augment")
    g.add_argument("--guidance-weight", type=float, default=1.0,
                   help="W in CE + W * guidance loss (default: %(default)s)")
    g.add_argument("--guidance-kw", nargs="*", default=[], metavar="KEY=VALUE",
                   help="guidance loss arguments, e.g. c1=0.5 c2=12 for isnet")
    g = p.add_argument_group("augmentation")
    g.add_argument("--no-geometric-augment", action="store_true", help="no scale/shift/jitter/rotation")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--max-steps-per-epoch", type=int, default=None)
    g.add_argument("--accumulate-grad-batches", type=int, default=1,
                   help="optimiser step every N batches (gradients averaged)")
    g = p.add_argument_group("run")
    g.add_argument("--out", default="runs/default", help="output folder (default: %(default)s)")
    g.add_argument("--resume", default=None, help="checkpoint to resume from (e.g. OUT/checkpoints/last.ckpt)")
    g.add_argument("--accelerator", default="auto")
    g.add_argument("--devices", default="1")
    g.add_argument("--strategy", default="auto", help="e.g. ddp (use with torchrun)")
    g.add_argument("--precision", default="32-true", help="e.g. 16-mixed, bf16-mixed (GPU)")
    g.add_argument("--num-workers", type=int, default=0)
    g.add_argument("--no-progress", action="store_true")


def config_from_args(args):
    from ..train.config import TrainConfig

    devices = int(args.devices) if str(args.devices).isdigit() else args.devices
    return TrainConfig(
        data=args.data,
        data_root=args.data_root,
        data_kwargs=data_kwargs_from(args),
        num_points=args.num_points,
        use_normals=args.normals,
        task=args.task,
        model=args.model,
        model_kwargs=parse_key_values(args.model_kw),
        augment=args.augment,
        alpha=args.alpha,
        beta=args.beta,
        fill=args.fill,
        mask_mode=args.mask_mode,
        mask_p=args.mask_p,
        relevance_method=args.relevance,
        lrp_start=args.lrp_start,
        lrp_composite=args.lrp_composite,
        guidance=args.guidance,
        guidance_weight=args.guidance_weight,
        guidance_kwargs=parse_key_values(args.guidance_kw),
        geometric_augment=not args.no_geometric_augment,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        max_steps_per_epoch=args.max_steps_per_epoch,
        accumulate_grad_batches=args.accumulate_grad_batches,
        out=args.out,
        resume=args.resume,
        accelerator=args.accelerator,
        devices=devices,
        strategy=args.strategy,
        precision=args.precision,
        num_workers=args.num_workers,
        progress=not args.no_progress,
    )


def run(args) -> int:
    from ..train.run import train

    result = train(config_from_args(args))
    print(json.dumps(result, indent=2))
    return 0
