"""Target of issue 12: ``reldrop3d robustness`` on one PointNet checkpoint over a 900-shape test
split (7 corruptions x 5 severities = 35 corrupted copies, 1,024 points per clean cloud) in
< 5 min on a 2-core CPU once the corrupted sets are cached.

Writes a seeded (untrained: the time does not depend on the weights) PointNet checkpoint of
``synthetic`` with a ``--shapes``-shape test split; (1) builds its clean set and generates and
caches the 35 corrupted sets in a fresh cache folder (the generation time), then (2) runs
:func:`evaluate_robustness` (what the command runs) with the cache in place, and prints the time
split: clean set, corrupted sets (reading), inference, each as wall time and as process CPU time (on a shared machine the wall time
depends on the load; the CPU time divided by the threads estimates the wall time of an idle one).

    nice -n 10 python benchmarks/bench_robustness.py [--shapes 900] [--threads 2] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from common import environment  # noqa: E402

from reldrop3d.data import create_dataset  # noqa: E402
from reldrop3d.data.corruptions import SEVERITIES, list_corruptions  # noqa: E402
from reldrop3d.eval.robustness import (  # noqa: E402
    clean_test_set,
    corrupted_arrays,
    evaluate_robustness,
)
from reldrop3d.models import create_model  # noqa: E402
from reldrop3d.models.checkpoint import load_model  # noqa: E402


def write_checkpoint(path: Path, shapes: int) -> Path:
    data_kw = {"num_shapes": {"train": 11, "val": 11, "test": shapes}, "num_points": 1024}
    classes = create_dataset("synthetic", "val", **data_kw).classes
    torch.manual_seed(0)
    kwargs = dict(num_classes=len(classes), in_channels=3)
    model = create_model("pointnet", **kwargs)
    meta = dict(model="pointnet", model_kwargs=kwargs, dataset="synthetic", data_kwargs=data_kw,
                classes=list(classes), num_points=1024, use_normals=False, task="cls")
    torch.save({"reldrop3d": meta,
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", type=int, default=900)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--corruptions", nargs="+", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"environment: {environment()}")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_checkpoint(Path(tmp) / "pointnet.ckpt", args.shapes)
        cache = Path(tmp) / "cache"
        # 1. generation: build the clean set and generate + cache the 35 corrupted sets
        t0, c0 = time.perf_counter(), time.process_time()
        _, meta = load_model(ckpt)
        clean = clean_test_set(meta)
        t1, c1 = time.perf_counter(), time.process_time()
        names = args.corruptions or list_corruptions()
        for name in names:
            for sev in SEVERITIES:
                corrupted_arrays(clean, name, sev, 0, cache)
        t2, c2 = time.perf_counter(), time.process_time()
        print(f"\ngeneration: {len(clean)} shapes x {clean.num_points} points, "
              f"{len(names) * len(SEVERITIES)} corrupted sets written to the cache")
        print(f"  {'':16s} {'wall s':>8s} {'CPU s':>8s}")
        print(f"  clean set        {t1 - t0:8.1f} {c1 - c0:8.1f}")
        print(f"  corrupted sets   {t2 - t1:8.1f} {c2 - c1:8.1f}  (generation + writing)")
        # 2. the command's work with the cache in place
        t0, c0 = time.perf_counter(), time.process_time()
        report = evaluate_robustness(ckpt, corruptions=args.corruptions, cache_dir=cache,
                                     batch_size=args.batch_size, progress=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t = report.timing
        sets = t["generated"] + t["cached"]
        print(f"\nevaluate_robustness with the cache: {report.num_shapes} shapes, {sets} "
              f"corrupted sets ({t['generated']} generated, {t['cached']} read) + the clean set")
        print(f"  {'':16s} {'wall s':>8s} {'CPU s':>8s}")
        print(f"  clean set        {t['load_clean_s']:8.1f} {t['load_clean_cpu_s']:8.1f}")
        print(f"  corrupted sets   {t['generate_s']:8.1f} {t['generate_cpu_s']:8.1f}  (reading the cache)")
        print(f"  inference        {t['inference_s']:8.1f} {t['inference_cpu_s']:8.1f}  "
              f"({(sets + 1) * report.num_shapes / t['inference_s']:.0f} clouds/s wall, "
              f"{(sets + 1) * report.num_shapes / t['inference_cpu_s']:.0f} per CPU s)")
        print(f"  total            {wall:8.1f} {cpu:8.1f}  (target: < 300 s wall on an idle "
              f"2-core CPU; wall >= CPU s / {args.threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
