"""``reldrop3d demo``: the main job on the embedded data, end to end on CPU in a few minutes.

Trains PointNet with RelDrop on ``synthetic``, evaluates it, renders the relevance of a test shape
to PNG, and prints accuracy after removing the most relevant vs random points.
"""

from __future__ import annotations

from ..masking import defaults
from ._options import non_negative_int

HELP = "train PointNet + RelDrop on the embedded synthetic data, explain and evaluate it"

DEMO_DEFAULTS = dict(epochs=4, num_points=512, train_shapes=2400, test_shapes=600, batch_size=16)


def add_arguments(p) -> None:
    p.add_argument("--out", default="outputs/demo",
                   help="output folder, replaced by every demo run (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=DEMO_DEFAULTS["epochs"])
    p.add_argument("--num-points", type=int, default=DEMO_DEFAULTS["num_points"])
    p.add_argument("--train-shapes", type=int, default=DEMO_DEFAULTS["train_shapes"])
    p.add_argument("--test-shapes", type=int, default=DEMO_DEFAULTS["test_shapes"])
    p.add_argument("--batch-size", type=int, default=DEMO_DEFAULTS["batch_size"])
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    import time
    from pathlib import Path

    import torch

    from ..data import create_dataset
    from ..eval import evaluate_classifier, occlusion_accuracy
    from ..explain import relevance
    from ..models.checkpoint import load_model
    from ..train.config import TrainConfig
    from ..train.run import train
    from ..viz import canonical_view, render_relevance_png

    out = Path(args.out)
    t0 = time.perf_counter()
    cfg = TrainConfig(
        data="synthetic",
        data_kwargs={"num_shapes": {"train": args.train_shapes, "val": 400, "test": args.test_shapes}},
        num_points=args.num_points,
        model="pointnet",
        augment="reldrop",
        alpha=defaults.ALPHA,
        beta=defaults.BETA,
        epochs=args.epochs,
        batch_size=args.batch_size,
        # the synthetic shapes already vary in scale and pose; RelDrop is the augmentation here
        geometric_augment=False,
        val_split="val",
        seed=args.seed,
        out=str(out),
        overwrite=True,  # the demo's folder is its own: a second demo replaces the first
        progress=not args.no_progress,
    )
    result = train(cfg)
    train_s = time.perf_counter() - t0
    ckpt = result["best_checkpoint"] or result["last_checkpoint"]
    model, meta = load_model(ckpt)
    test = create_dataset("synthetic", "test", **meta["data_kwargs"])
    scores = evaluate_classifier(model, test)

    sample = test[0]
    x = sample["points"][None]
    r = relevance(model, x, sample["label"][None])[0]
    with torch.no_grad():
        pred = model(x).argmax(-1).item()
    true_name = test.classes[int(sample["label"])]
    elev, azim = canonical_view(sample["points"], true_name)  # as `reldrop3d render` shows it
    png = render_relevance_png(
        sample["points"], r, out / "relevance.png", width=900, height=420, views=2,
        elev=elev, azim=azim,
        title=f"LRP relevance: true {true_name}, predicted {test.classes[pred]} (two sides)",
    )
    fractions = [0.0, 0.1, 0.25, 0.5]
    occ = occlusion_accuracy(model, test, fractions, orders=("most", "random"))

    print()
    print(f"trained PointNet + RelDrop on synthetic in {train_s:.0f} s ({args.epochs} epochs)")
    print(f"checkpoint:           {ckpt}")
    print(f"test accuracy:        {scores['accuracy']:.4f}")
    print(f"mean class accuracy:  {scores['mean_class_accuracy']:.4f}")
    print(f"relevance picture:    {png}")
    print()
    print("accuracy after removing points (test set)")
    print("removed | most relevant first | random")
    for i, f in enumerate(fractions):
        print(f"{f:7.0%} | {occ['most'][i]:19.4f} | {occ['random'][i]:.4f}")
    return 0
