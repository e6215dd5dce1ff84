"""Cost of one relevance pass (fresh relevance, no reuse) next to a plain training step.

For each model, side by side (interleaved repeats) in one run: a plain Adam training step, an input
gradient (the floor any backward-based attribution pays), and the fast LRP as RelDrop training
calls it (``method="lrp"``, ``start="log_softmax"``, composite ``epsilon-flat``); ratios are to the
model's own training step.

    python benchmarks/bench_lrp_pass.py [--models pointnet pointnet2_ssg pointnet2_msg dgcnn]
        [--batch 32 32 8 8] [--points 1024] [--threads 2] [--repeats 5] [--warmup 2] [--device cpu] [--clock wall|cpu]
        [--against CHECKOUT]

``--against`` adds the fast LRP of another checkout of reldrop3d (e.g. a clone of an older
commit), in the same process and interleaved with the rest: its ``reldrop3d`` package is copied
to a temporary folder under another name and imported from there, the same model is built with
it and given the same weights, and the largest difference between the two relevance maps is
printed with the timings.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
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
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (CPU only; for a busy machine)")
    ap.add_argument("--against", type=Path, default=None,
                    help="a checkout of reldrop3d whose fast LRP is timed alongside")
    args = ap.parse_args()
    batches = args.batch or [dict(zip(MODELS, BATCHES)).get(m, 8) for m in args.models]
    if len(batches) == 1:
        batches = batches * len(args.models)
    if len(batches) != len(args.models):
        ap.error(f"--batch needs one value or one per model ({len(args.models)}), got {len(batches)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if args.clock == "cpu" and dev.type != "cpu":
        ap.error("--clock cpu measures CPU devices only")
    other = import_other(args.against) if args.against else None
    print(f"relevance-pass cost, {args.points} points, {environment()}, {args.clock} clock")
    summary = []
    for name, batch in zip(args.models, batches):
        times = bench_one(name, batch, args, dev, other)
        summary.append((name, batch, times))
    extra = f" {'--against / step':>17s}" if other else ""
    print(f"\n{'model':15s} {'batch':>5s} {'plain step ms':>14s} {'grad / step':>12s} {'fast LRP / step':>16s}{extra}")
    for name, batch, t in summary:
        plain = t["plain step"]
        extra = f" {t['fast LRP, --against'] / plain:17.2f}" if other else ""
        print(f"{name:15s} {batch:5d} {plain * 1e3:14.1f} {t['input gradient'] / plain:12.2f} "
              f"{t['fast LRP'] / plain:16.2f}{extra}")


def time_interleaved_cpu(fns, repeats: int, warmup: int) -> dict[str, float]:
    """Median CPU seconds of this process (all threads) per call, round-robin: on a machine that
    other jobs keep busy, wall time mostly measures the wait for a core."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.process_time()
            fn()
            samples[name].append(time.process_time() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def import_other(checkout: Path):
    """The ``reldrop3d`` package of another checkout, imported as ``reldrop3d_against``."""
    src = checkout / "reldrop3d"
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"--against {checkout}: no reldrop3d package there")
    tmp = Path(tempfile.mkdtemp(prefix="bench_lrp_against_"))
    shutil.copytree(src, tmp / "reldrop3d_against", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(tmp))
    return importlib.import_module("reldrop3d_against")


def bench_one(name: str, batch: int, args, dev: torch.device, other=None) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=args.classes).to(dev)
    x = torch.rand(batch, args.points, 3, device=dev) * 2 - 1
    y = torch.randint(0, args.classes, (batch,), device=dev)
    fns = {
        "plain step": None,
        "input gradient": lambda: input_gradient(model, x, y, start="log_softmax"),
        "fast LRP": lambda: relevance(model, x, y, method="lrp", start="log_softmax"),
    }
    if other is not None:
        importlib.import_module(f"{other.__name__}.explain")
        peer = importlib.import_module(f"{other.__name__}.models").create_model(name, num_classes=args.classes)
        peer.load_state_dict(model.state_dict())
        peer.to(dev)
        ours = relevance(model, x, y, method="lrp", start="log_softmax")
        theirs = other.explain.relevance(peer, x, y, method="lrp", start="log_softmax")
        diff = ((ours - theirs).abs().max() / theirs.abs().max()).item()
        print(f"\n{name}: max |fast LRP - --against| / max |--against| = {diff:.2e}")
        fns["fast LRP, --against"] = lambda: other.explain.relevance(peer, x, y, method="lrp",
                                                                     start="log_softmax")
    step = make_train_step(model, x, y)  # after the comparison: the steps change the weights
    fns["plain step"] = lambda: step(x)
    if args.clock == "cpu":
        times = time_interleaved_cpu(fns, repeats=args.repeats, warmup=args.warmup)
    else:
        times = time_interleaved(fns, repeats=args.repeats, warmup=args.warmup, device=dev)
    print_table(f"{name}, batch {batch} x {args.points}", times, "plain step")
    return times


if __name__ == "__main__":
    main()
