"""Cost of the mask modes against a PointNet training step (issue target: region masking
< 10 % of a PointNet training step at batch 32 x 1,024 on CPU).

(a) points: the paper rule (``point``), spatially balanced ``region`` (kNN k=32 / 64 and ball),
    each mask + fill, next to a plain PointNet training step, interleaved in one run; the
    region mask's two neighbour-search strategies (per-step vs graph built once with
    reldrop3d.ops.knn) side by side;
(b) images: ``pixel``, the official ``block`` / ``patch``, ``grid_patch``, ``dropblock``,
    ``region``, ``random_erasing`` at batch 32 x 3 x 32 x 32.

    python benchmarks/bench_masking.py [--batch 32] [--points 1024] [--device cpu] [--repeats 8]
                                       [--threads N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere
from common import environment, make_train_step, print_table, time_interleaved  # noqa: E402

from reldrop3d.masking import make_masker, region_point_mask  # noqa: E402
from reldrop3d.models import create_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--beta", type=float, default=0.5)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = create_model("pointnet", num_classes=40).to(dev)
    x = torch.randn(args.batch, args.points, 3, device=dev)
    x = x / x.norm(dim=-1, keepdim=True)  # points on the unit sphere, like a normalised surface
    y = torch.randint(0, 40, (args.batch,), device=dev)
    r = torch.rand(args.batch, args.points, device=dev)
    step = make_train_step(model, x, y)

    maskers = {
        "point (paper rule)": make_masker("point", beta=args.beta),
        "region kNN k=32": make_masker("region", beta=args.beta, k=32),
        "region kNN k=64": make_masker("region", beta=args.beta, k=64),
        "region ball r=0.3 (<=64)": make_masker("region", beta=args.beta, k=64, radius=0.3),
        "region kNN k=32, resample fill": make_masker("region", beta=args.beta, k=32,
                                                      fill="resample"),
    }
    maskers["region kNN k=32, ops.knn graph"] = None
    fns = {"PointNet training step": step}
    fns.update({name: (lambda m=m: m(x, r)) for name, m in maskers.items() if m is not None})
    fns["region kNN k=32, ops.knn graph"] = lambda: region_point_mask(x, r, beta=args.beta, k=32,
                                                                      backend="auto")
    print(f"Mask cost, points: batch {args.batch} x {args.points}, beta {args.beta}, "
          f"{environment()}")
    times = time_interleaved(fns, repeats=args.repeats, device=dev)
    print_table("(a) point-cloud masks (mask + fill) vs a PointNet training step", times,
                "PointNet training step")
    share = times["region kNN k=32"] / times["PointNet training step"]
    print(f"\nregion (kNN k=32) costs {100 * share:.1f} % of a PointNet training step "
          f"(target < 10 %)")

    s = args.image_size
    img = torch.rand(args.batch, 3, s, s, device=dev)
    ri = torch.rand(args.batch, s, s, device=dev)
    imaskers = {
        "pixel": make_masker("pixel", beta=args.beta),
        "block (official)": make_masker("block", fill="mean"),
        "patch (official)": make_masker("patch", fill="mean"),
        "grid_patch 4x4": make_masker("grid_patch", beta=args.beta, size=4),
        "dropblock 5x5": make_masker("dropblock", beta=args.beta, size=5),
        "region 5x5": make_masker("region", beta=args.beta, size=5),
        "random_erasing": make_masker("random_erasing", fill="mean"),
    }
    itimes = time_interleaved({n: (lambda m=m: m(img, ri)) for n, m in imaskers.items()},
                              repeats=args.repeats, device=dev)
    print_table(f"(b) image masks, batch {args.batch} x 3 x {s} x {s}", itimes, "pixel")


if __name__ == "__main__":
    main()
