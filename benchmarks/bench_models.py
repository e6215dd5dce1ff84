"""Per registered point model: training throughput, and relevance time of the fast LRP vs zennit.

    python benchmarks/bench_models.py [--batch 8] [--points 1024] [--models pointnet dgcnn ...] [--device cpu]

Everything is measured side by side (interleaved repeats) in one run; ratios are to the model's own
training step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import environment, make_train_step, time_interleaved  # noqa: E402

from reldrop3d.explain import relevance  # noqa: E402
from reldrop3d.models import create_model, list_models  # noqa: E402

POINT_MODELS = [m for m in list_models() if m.startswith(("pointnet", "dgcnn"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--models", nargs="*", default=POINT_MODELS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"batch {args.batch} x {args.points}, {environment()}")
    print(f"{'model':15s} {'train samples/s':>16s} {'fast LRP / step':>16s} {'zennit LRP / step':>18s} {'zennit / fast':>14s}")
    for name in args.models:
        bench_one(name, args, dev)


def bench_one(name: str, args, dev: torch.device) -> None:
    """Print one row: training throughput and relevance cost relative to a training step."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=args.classes).to(dev)
    x = torch.randn(args.batch, args.points, 3, device=dev) * 0.5
    y = torch.randint(0, args.classes, (args.batch,), device=dev)
    t = time_interleaved(
        {
            "step": make_train_step(model, x, y),
            "fast": lambda: relevance(model, x, y, method="lrp"),
            "zennit": lambda: relevance(model, x, y, method="lrp_zennit"),
        },
        repeats=args.repeats,
        warmup=1,
        device=dev,
    )
    print(f"{name:15s} {args.batch / t['step']:16.1f} {t['fast'] / t['step']:15.2f}x "
          f"{t['zennit'] / t['step']:17.2f}x {t['zennit'] / t['fast']:13.2f}x", flush=True)

if __name__ == "__main__":
    main()
