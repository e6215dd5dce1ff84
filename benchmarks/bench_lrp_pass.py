"""Cost of one relevance pass (fresh relevance, no reuse) next to a plain training step.

For each model, side by side (interleaved repeats) in one run: a plain Adam training step, an input
gradient (the floor any backward-based attribution pays), and the fast LRP as RelDrop training
calls it (``method="lrp"``, ``start="log_softmax"``, composite ``epsilon-flat``); ratios are to the
model's own training step.

    python benchmarks/bench_lrp_pass.py [--models pointnet pointnet2_ssg pointnet2_msg dgcnn]
        [--batch 32 32 8 8] [--points 1024] [--threads 2] [--repeats 5] [--device cpu]

The script only uses the public API (:func:`reldrop3d.explain.relevance`), so running it with
``PYTHONPATH`` pointing at another checkout measures that checkout's relevance pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import environment, make_train_step, print_table, time_interleaved  # noqa: E402

from reldrop3d.explain import input_gradient, relevance  # noqa: E402
from reldrop3d.models import create_model  # noqa: E402

MODELS = ("pointnet", "pointnet2_ssg", "pointnet2_msg", "dgcnn")
BATCHES = (32, 32, 8, 8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--batch", nargs="+", type=int, default=None,
                    help="one batch size, or one per model (default 32 for PointNet/SSG, 8 for MSG/DGCNN)")
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    batches = args.batch or [dict(zip(MODELS, BATCHES)).get(m, 8) for m in args.models]
    if len(batches) == 1:
        batches = batches * len(args.models)
    if len(batches) != len(args.models):
        ap.error(f"--batch needs one value or one per model ({len(args.models)}), got {len(batches)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"relevance-pass cost, {args.points} points, {environment()}")
    summary = []
    for name, batch in zip(args.models, batches):
        times = bench_one(name, batch, args, dev)
        summary.append((name, batch, times))
    print(f"\n{'model':15s} {'batch':>5s} {'plain step ms':>14s} {'grad / step':>12s} {'fast LRP / step':>16s}")
    for name, batch, t in summary:
        plain = t["plain step"]
        print(f"{name:15s} {batch:5d} {plain * 1e3:14.1f} {t['input gradient'] / plain:12.2f} "
              f"{t['fast LRP'] / plain:16.2f}")


def bench_one(name: str, batch: int, args, dev: torch.device) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=args.classes).to(dev)
    x = torch.rand(batch, args.points, 3, device=dev) * 2 - 1
    y = torch.randint(0, args.classes, (batch,), device=dev)
    step = make_train_step(model, x, y)
    fns = {
        "plain step": lambda: step(x),
        "input gradient": lambda: input_gradient(model, x, y, start="log_softmax"),
        "fast LRP": lambda: relevance(model, x, y, method="lrp", start="log_softmax"),
    }
    times = time_interleaved(fns, repeats=args.repeats, warmup=2, device=dev)
    print_table(f"{name}, batch {batch} x {args.points}", times, "plain step")
    return times


if __name__ == "__main__":
    main()
