"""Data-set targets of issue 3, measured side by side in one run on the shared real samples.

(a) Building the ``modelnet40_normal_resampled`` FPS cache: the batched, vectorised FPS of
    ``reldrop3d.ops.farthest_point_sample`` (10,000 -> 1,024 points per shape) against the
    per-shape NumPy FPS loop of the classic reference loader (PointNet++'s
    ``ModelNetDataLoader.farthest_point_sample``). Target: >= 10x.
(b) Loading a cached split: one data-loader epoch over the cached arrays (reading the ``.npz``
    cache from disk, building the data set, iterating a shuffled ``DataLoader``) against one
    PointNet training epoch (forward, backward, Adam step; no RelDrop) over the same batches, on
    CPU. The 39 real training shapes are tiled to ``--shapes`` shapes (both costs are linear in
    the number of shapes). Target: < 5%.

    python benchmarks/bench_datasets.py [--threads 1] [--fps-shapes 64] [--numpy-shapes 3]
        [--shapes 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from common import environment  # noqa: E402

from reldrop3d.data import create_dataset  # noqa: E402
from reldrop3d.data.arrays import ArrayDataset  # noqa: E402
from reldrop3d.data.cache import load_or_build  # noqa: E402
from reldrop3d.ops import farthest_point_sample, resolve_backend  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "modelnet40_normal_resampled"


def reference_numpy_fps(point: np.ndarray, npoint: int) -> np.ndarray:
    """The classic per-shape NumPy FPS of the PointNet++ reference loader (start fixed at 0
    instead of random, so that its result can be compared with the vectorised one)."""
    n = point.shape[0]
    xyz = point[:, :3]
    centroids = np.zeros((npoint,))
    distance = np.ones((n,)) * 1e10
    farthest = 0
    for i in range(npoint):
        centroids[i] = farthest
        centroid = xyz[farthest, :]
        dist = np.sum((xyz - centroid) ** 2, -1)
        mask = dist < distance
        distance[mask] = dist[mask]
        farthest = np.argmax(distance, -1)
    return centroids.astype(np.int64)


def load_shapes(count: int) -> np.ndarray:
    """(count, 10000, 3) xyz of real ModelNet40 shapes (cycled if fewer exist)."""
    files = sorted(SAMPLES.glob("*/*.txt"))
    return np.stack([np.loadtxt(files[i % len(files)], delimiter=",", dtype=np.float32)[:, :3]
                     for i in range(count)])


def bench_fps(args) -> None:
    """Interleaved rounds: one NumPy-loop shape, then one vectorised batch per backend."""
    shapes = load_shapes(max(args.fps_shapes, args.numpy_shapes))
    n = shapes.shape[1]
    x = torch.from_numpy(shapes[: args.fps_shapes])
    backends = ["torch"] + (["cluster"] if resolve_backend("auto") == "cluster" else [])
    for be in backends:
        farthest_point_sample(x[:2, :2000], 64, backend=be)  # warm-up
    times: dict[str, list[float]] = {"numpy": [], **{be: [] for be in backends}}
    agree = []
    for r in range(args.numpy_shapes):
        t0 = time.perf_counter()
        ref = reference_numpy_fps(shapes[r], args.samples)
        times["numpy"].append(time.perf_counter() - t0)
        for be in backends:
            t0 = time.perf_counter()
            idx = farthest_point_sample(x, args.samples, backend=be)
            times[be].append((time.perf_counter() - t0) / len(x))
        agree.append(np.array_equal(ref, idx[r % len(x)].numpy()) if r < len(x) else True)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"\n(a) FPS for the normal_resampled cache: {n} -> {args.samples} points per shape, "
          f"median of {args.numpy_shapes} interleaved rounds")
    print(f"{'':56s} {'s / shape':>10s} {'speed-up':>10s}")
    print(f"{'per-shape NumPy loop (reference loader)':56s} {med['numpy']:10.4f} {1:10.1f}x")
    for be in backends:
        label = f"batched FPS, {be} backend, {len(x)} shapes per call"
        print(f"{label:56s} {med[be]:10.4f} {med['numpy'] / med[be]:10.1f}x")
    print(f"identical indices to the NumPy loop: {sum(agree)} of {len(agree)} shapes")


def _cache_missing() -> dict:
    raise AssertionError("the benchmark cache should exist")


def bench_loader(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        real = create_dataset("modelnet40", "train", root=SAMPLES, format="normal",
                              num_points=args.points, cache_dir=Path(tmp) / "real")
        reps = -(-args.shapes // len(real))
        arrays = {"points": real.points.numpy().repeat(reps, 0)[: args.shapes],
                  "labels": real.labels().numpy().repeat(reps)[: args.shapes]}
        path = Path(tmp) / "tiled.npz"
        load_or_build(path, "bench", lambda: arrays)
        size_mb = path.stat().st_size / 2**20

        def loader_epoch() -> int:
            cached = load_or_build(path, "bench", _cache_missing)
            ds = ArrayDataset("modelnet40", "train", real.classes, cached["points"],
                              cached["labels"], normalize=False)
            seen = 0
            for batch in DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True):
                seen += batch["points"].shape[0]
            return seen

        ds = ArrayDataset("modelnet40", "train", real.classes, arrays["points"],
                          arrays["labels"], normalize=False)
        batches = list(DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True))
        try:
            from reldrop3d.models import create_model

            model = create_model("pointnet", num_classes=40)
        except (ImportError, KeyError) as err:
            print(f"\n(b) PointNet not available ({err}); loader epoch only")
            model = None

        def train_epoch() -> None:
            model.train()
            opt = torch.optim.Adam(model.parameters(), 1e-3)
            for batch in batches:
                loss = F.cross_entropy(model(batch["points"]), batch["label"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        loader_epoch()  # warm-up (page cache)
        load_times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            loader_epoch()
            load_times.append(time.perf_counter() - t0)
        t_load = float(np.median(load_times))
        print(f"\n(b) one epoch over a cached split: {args.shapes} shapes x {args.points} points, "
              f"batch {args.batch}, cache {size_mb:.1f} MiB")
        print(f"  data-loader epoch (read cache + iterate): {t_load * 1e3:9.1f} ms "
              f"(median of {args.repeats})")
        if model is not None:
            t0 = time.perf_counter()
            train_epoch()
            t_train = time.perf_counter() - t0
            print(f"  PointNet training epoch (CPU):            {t_train * 1e3:9.1f} ms")
            print(f"  loader / training: {100 * t_load / t_train:.2f}% (target < 5%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps-shapes", type=int, default=64,
                    help="shapes per vectorised call (the cache builder's chunk)")
    ap.add_argument("--numpy-shapes", type=int, default=3,
                    help="interleaved rounds (one NumPy-loop shape each)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: torch's; the shared dev machine: use 1)")
    ap.add_argument("--samples", type=int, default=1024, help="FPS output points per shape")
    ap.add_argument("--shapes", type=int, default=512, help="shapes in the loader/training epoch")
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-fps", action="store_true")
    ap.add_argument("--skip-loader", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"data-set benchmarks on {SAMPLES}, {environment()}{load}")
    if not args.skip_fps:
        bench_fps(args)
    if not args.skip_loader:
        bench_loader(args)


if __name__ == "__main__":
    main()
