"""Generation speed of the embedded ``synthetic`` data set.

(a) a whole data set: 10,000 shapes x 1,024 points (and the default train split, 2,400 shapes),
    built once each, in shapes per second;
(b) side by side (interleaved): the per-class vectorised generator vs a per-shape Python loop
    over the same generator (one shape per call), on a few shapes per class;
(c) with --separability: test accuracy of small classifiers on trivial per-shape statistics
    (bounding-box extents + radial moments) on the default train / test splits.

    python benchmarks/bench_synthetic.py [--shapes 10000] [--points 1024] [--threads 2]
    python benchmarks/bench_synthetic.py --separability [--points 256 --pointnet-epochs 10]
        [--train-shapes 2400 --test-shapes 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, from a checkout
from common import environment, print_table, time_interleaved  # noqa: E402

from reldrop3d.data.synthetic import SyntheticShapes, pose_shapes  # noqa: E402
from reldrop3d.data.synthetic_shapes import CLASSES, sample_class  # noqa: E402


def build_seconds(**kwargs) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) of building one data set; on a loaded machine
    the CPU time is the better estimate of the wall time on an idle one (times the threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    SyntheticShapes("train", **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0


def vectorised(per_class: int, points: int, gen: torch.Generator) -> None:
    for name in CLASSES:
        pose_shapes(*sample_class(name, per_class, points, gen)[:2], 0.005, gen)


def per_shape_loop(per_class: int, points: int, gen: torch.Generator) -> None:
    for name in CLASSES:
        for _ in range(per_class):
            pose_shapes(*sample_class(name, 1, points, gen)[:2], 0.005, gen)


def trivial_features(points: torch.Tensor) -> torch.Tensor:
    """Per shape (B, 10): bounding-box extents (x/z sorted, the yaw is random, then y) and
    radial moments: mean, std, third moment of |p|; mean, std of the distance to the y axis;
    std and mean absolute value of y."""
    e = points.amax(1) - points.amin(1)
    extents = torch.cat([e[:, [0, 2]].sort(1).values, e[:, 1:2]], 1)
    r, rxz, y = points.norm(dim=-1), points[..., [0, 2]].norm(dim=-1), points[..., 1]
    moments = [r.mean(1), r.std(1), (r**3).mean(1), rxz.mean(1), rxz.std(1), y.std(1)]
    return torch.cat([extents, torch.stack([*moments, y.abs().mean(1)], 1)], 1)


def separability(points: int, sizes: dict[str, int], pointnet_epochs: int = 0) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = SyntheticShapes("train", num_points=points, num_shapes=sizes)
    test = SyntheticShapes("test", num_points=points, num_shapes=sizes)
    x_tr, x_te = trivial_features(train.points).numpy(), trivial_features(test.points).numpy()
    y_tr, y_te = train.labels().numpy(), test.labels().numpy()
    print(
        f"\n(c) {train.num_classes} classes, train {len(train)} / test {len(test)} shapes x "
        f"{points} points: accuracy on extents + radial moments "
        f"(chance {1 / train.num_classes:.1%})"
    )
    classifiers = {
        "nearest centroid": make_pipeline(StandardScaler(), NearestCentroid()),
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        "random forest (300 trees)": RandomForestClassifier(300, random_state=0),
    }
    for name, clf in classifiers.items():
        print(f"{name:34s} {clf.fit(x_tr, y_tr).score(x_te, y_te):12.1%}")
    if pointnet_epochs:
        print(
            f"{'PointNet, ' + str(pointnet_epochs) + ' epochs':34s} "
            f"{pointnet_accuracy(train, test, pointnet_epochs):12.1%}"
        )


def pointnet_accuracy(train: SyntheticShapes, test: SyntheticShapes, epochs: int) -> float:
    """Test accuracy of a PointNet (no T-Nets) trained with Adam + cosine schedule, batch 32."""
    import torch.nn.functional as F

    from reldrop3d.models import create_model

    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=train.num_classes)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True, drop_last=True)
    for _ in range(epochs):
        model.train()
        for batch in loader:
            loss = F.cross_entropy(model(batch["points"]), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x).argmax(1) for x in test.points.split(100)])
    return (pred == test.labels()).float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shapes", type=int, default=10000)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loop-shapes-per-class", type=int, default=20)
    ap.add_argument("--separability", action="store_true", help="only part (c)")
    ap.add_argument("--train-shapes", type=int, default=2400, help="(c): training shapes")
    ap.add_argument("--test-shapes", type=int, default=600, help="(c): test shapes")
    ap.add_argument(
        "--pointnet-epochs",
        type=int,
        default=0,
        help="with --separability: also train PointNet this long on the same splits",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.separability:
        sizes = {"train": args.train_shapes, "test": args.test_shapes}
        separability(args.points, sizes, args.pointnet_epochs)
        return
    print(f"synthetic generation benchmark ({environment()})")
    print("note: the machine may be shared; compare the ratios of (b), not absolute times")

    print("\n(a) whole data sets, built once")
    runs = [(f"{n} shapes x {args.points} points", n, {}) for n in (args.shapes, 2400)]
    runs.append((f"{args.shapes} shapes, clutter='biased'", args.shapes, {"clutter": "biased"}))
    for label, n, extra in runs:
        wall, cpu = build_seconds(num_points=args.points, num_shapes=n, **extra)
        print(f"{label:38s} {wall:7.2f} s wall ({n / wall:6.0f} shapes/s), {cpu:7.2f} s CPU")

    k = args.loop_shapes_per_class
    gen = torch.Generator().manual_seed(0)
    times = time_interleaved(
        {
            "vectorised per class": lambda: vectorised(k, args.points, gen),
            "per-shape Python loop": lambda: per_shape_loop(k, args.points, gen),
        },
        repeats=3,
        warmup=1,
    )
    n = k * len(CLASSES)
    print_table(
        f"(b) {n} shapes x {args.points} points, median of 3", times, "vectorised per class"
    )
    for name, t in times.items():
        print(f"{name:34s} {n / t:12.0f} shapes/s")


if __name__ == "__main__":
    main()
