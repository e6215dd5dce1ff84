"""``reldrop3d evaluate CKPT``: accuracy (and occlusion curves) of a trained model."""

from __future__ import annotations

HELP = "evaluate a checkpoint: overall accuracy and mean class accuracy"


def add_arguments(p) -> None:
    from ._options import torch_device

    p.add_argument("checkpoint", help="a .ckpt written by reldrop3d train")
    p.add_argument("--split", default="test")
    p.add_argument("--data-root", default=None,
                   help="override the data folder stored in the checkpoint (refused for a "
                        "generated data set such as synthetic)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", type=torch_device)
    p.add_argument("--occlusion", action="store_true",
                   help="also write occlusion curves (CSV + PNG) next to the checkpoint or into --out")
    p.add_argument("--out", default=None, help="folder for occlusion outputs")
    p.add_argument("--relevance", default="lrp", help="relevance method for occlusion")


def run(args) -> int:
    from pathlib import Path

    from ..data import create_dataset
    from ..eval.report import evaluate_checkpoint_report
    from ..models.checkpoint import load_model
    from ..train.guards import check_data_root_used

    model, meta = load_model(args.checkpoint)
    data_kwargs = dict(meta["data_kwargs"])
    if args.data_root:
        data_kwargs["root"] = args.data_root
    dataset = create_dataset(meta["dataset"], args.split, **data_kwargs)
    check_data_root_used(dataset, args.data_root, meta["dataset"])
    occlusion_out = None
    if args.occlusion:
        occlusion_out = args.out or Path(args.checkpoint).resolve().parent / "occlusion"
    print(evaluate_checkpoint_report(
        model, meta, dataset, checkpoint=args.checkpoint, split=args.split,
        batch_size=args.batch_size, device=args.device, occlusion_out=occlusion_out,
        relevance_method=args.relevance,
    ))
    return 0
