"""Neighbourhood ops, pure-torch backend vs torch-cluster, measured side by side (interleaved).

For each size N (batch 16, points on the unit sphere like normalised shape surfaces):
  knn         k=20 neighbours of every point (DGCNN's graph), M = N queries
  ball_query  radius 0.2, K=32 (PointNet++ SA1), M = N/4 queries, "first" and "nearest" order
  fps         M = N/4 samples from index 0

    python benchmarks/bench_ops.py [--sizes 1024 4096 16384] [--batch 16] [--device cpu|cuda]
                                   [--repeats 3] [--threads T]

Prints median ms per call and the ratio torch / torch-cluster (< 1: the pure-torch backend is
faster). On a shared machine timings are noisy; the interleaving makes the ratios fair.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, time_interleaved  # noqa: E402

from reldrop3d.ops import (  # noqa: E402
    ball_query,
    farthest_point_sample,
    has_torch_cluster,
    knn,
)


def sphere_points(batch: int, n: int, device: str, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, 3, generator=g)
    return (x / x.norm(dim=-1, keepdim=True)).to(device)


def cases(points: torch.Tensor):
    """(op name, callable taking the backend) for one point set."""
    n = points.shape[1]
    centres = points[:, : max(1, n // 4)]
    return [
        ("knn k=20", lambda be: knn(points, points, 20, backend=be)),
        ("ball_query r=0.2 K=32 first",
         lambda be: ball_query(centres, points, 0.2, 32, order="first", backend=be)),
        ("ball_query r=0.2 K=32 nearest",
         lambda be: ball_query(centres, points, 0.2, 32, order="nearest", backend=be)),
        ("fps M=N/4", lambda be: farthest_point_sample(points, max(1, n // 4), backend=be)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--ops", nargs="+", default=None,
                    help="only ops whose name starts with one of these (knn, ball_query, fps)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    backends = ["torch"] + (["cluster"] if has_torch_cluster() else [])
    print(environment())
    if len(backends) == 1:
        print("torch-cluster is not installed: timing the pure-torch backend only")
    print(f"batch {args.batch}, median of {args.repeats} interleaved repeats, device {args.device}")
    print(f"\n{'op':32s} {'N':>6s} " + " ".join(f"{b + ' ms':>12s}" for b in backends)
          + ("   torch/cluster" if len(backends) == 2 else ""))
    for n in args.sizes:
        pts = sphere_points(args.batch, n, args.device)
        for name, fn in cases(pts):
            if args.ops and not any(name.startswith(o) for o in args.ops):
                continue
            times = time_interleaved({be: (lambda be=be, fn=fn: fn(be)) for be in backends},
                                     repeats=args.repeats, warmup=1, device=args.device)
            row = f"{name:32s} {n:6d} " + " ".join(f"{times[b] * 1e3:12.1f}" for b in backends)
            if len(backends) == 2:
                row += f"   {times['torch'] / times['cluster']:12.2f}x"
            print(row, flush=True)


if __name__ == "__main__":
    main()
