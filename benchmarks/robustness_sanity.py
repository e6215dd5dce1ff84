"""Can the corruption benchmark tell a difference? Baseline vs PointNet++'s random point dropout.

A documented experiment, not a test (at a unit-test budget on a 2-core CPU the models are too weak
for the comparison to be reliable; see docs/robustness.md): for every seed, train a PointNet on
``synthetic`` without input dropout (``--augment none``) and with random point dropout
(``--augment random``), then score both on ``dropout_global`` at its five severities, with the
clean test clouds at the training resolution (``--num-points``), so that severity 5 leaves a
quarter of the points the models were trained on. Expected: the random-dropout model has the lower
error at the harsher severities. Prints per-severity errors (mean +- std over seeds) and the paired
difference; finished runs are reused.

    nice -n 10 python benchmarks/robustness_sanity.py --seeds 0 1 2 --epochs 8
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--num-points", type=int, default=256)
    p.add_argument("--train-shapes", type=int, default=660)
    p.add_argument("--test-shapes", type=int, default=220)
    p.add_argument("--out", default="runs/robustness_sanity")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from reldrop3d.eval.robustness import corruption_errors
    from reldrop3d.models.checkpoint import load_model
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.run import train

    out = Path(args.out)
    shapes = {"train": args.train_shapes, "val": 44, "test": args.test_shapes}
    errors: dict[str, list[list[float]]] = {"none": [], "random": []}
    for seed in args.seeds:
        for aug in ("none", "random"):
            run = out / f"{aug}_seed{seed}"
            ckpt = run / "checkpoints" / "last.ckpt"
            t0 = time.perf_counter()
            if not ckpt.is_file():
                cfg = TrainConfig(data="synthetic", data_kwargs={"num_shapes": shapes},
                                  num_points=args.num_points, augment=aug, epochs=args.epochs,
                                  seed=seed, out=str(run), progress=False, accelerator="cpu")
                ckpt = Path(train(cfg)["last_checkpoint"])
            t1 = time.perf_counter()
            model, meta = load_model(ckpt)
            res = corruption_errors(model, meta, corruptions=["dropout_global"],
                                    num_points=args.num_points, cache_dir=out / "cache")
            errors[aug].append(res["errors"]["dropout_global"])
            print(f"seed {seed} augment {aug:6s}: clean {res['clean_error']:.3f}  dropout_global "
                  + " ".join(f"{e:.3f}" for e in res["errors"]["dropout_global"])
                  + f"  (train {t1 - t0:.0f} s, eval {time.perf_counter() - t1:.0f} s)", flush=True)
    base, rnd = np.array(errors["none"]), np.array(errors["random"])
    diff = rnd - base
    print(f"\ndropout_global error, {len(args.seeds)} seeds, {args.epochs} epochs, "
          f"{args.train_shapes} training shapes, {args.num_points} points (mean +- std over seeds)")
    print("| severity | kept points | baseline | random dropout | random - baseline | seeds random lower |")
    print("|---|---|---|---|---|---|")
    rates = (0.25, 0.375, 0.5, 0.625, 0.75)
    for s in range(5):
        print(f"| {s + 1} | {int(args.num_points * (1 - rates[s]))} | {base[:, s].mean():.3f} +- "
              f"{base[:, s].std(ddof=1) if len(base) > 1 else 0:.3f} | {rnd[:, s].mean():.3f} +- "
              f"{rnd[:, s].std(ddof=1) if len(rnd) > 1 else 0:.3f} | {diff[:, s].mean():+.3f} +- "
              f"{diff[:, s].std(ddof=1) if len(diff) > 1 else 0:.3f} | "
              f"{int((diff[:, s] < 0).sum())}/{len(diff)} |")
    (out / "sanity.json").write_text(json.dumps({"seeds": args.seeds, "baseline": base.tolist(),
                                                 "random": rnd.tolist()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
