"""Compare input-dropout variants in one call: train every variant with the same seeds,
evaluate clean accuracy, mean class accuracy and occlusion AUCs, report mean +- std.

This is the project's comparison protocol (docs/fidelity.md says where it differs from the
official RelDrop runs: e.g. the last checkpoint is evaluated, nothing is selected on test).

Variants (each a :class:`reldrop3d.train.config.TrainConfig` override):

================== ===========================================================================
``baseline``        no input dropout
``random``          PointNet++'s random input dropout
``reldrop_point``   RelDrop, the paper's rule per point
``reldrop_region``  RelDrop, spatially balanced regions (:mod:`reldrop3d.masking.region`)
================== ===========================================================================

Outputs in ``out``: ``runs/<variant>/seed<k>/`` (training run + ``eval.json``; a finished run is
reused when the command is repeated), ``results.csv`` (one row per run), ``curves.csv``
(occlusion curves per run), ``results.md`` (the table), ``occlusion_curves.png`` and
``metrics.png``. The models evaluated are the *last* checkpoints: all variants train for the same
number of epochs and no variant is selected on the test split.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..utils.io import atomic_path, atomic_write_text

VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"augment": "none"},
    "random": {"augment": "random"},
    "reldrop_point": {"augment": "reldrop", "mask_mode": "point"},
    "reldrop_region": {"augment": "reldrop", "mask_mode": "region"},
}
METRICS = ("accuracy", "mean_class_accuracy", "auc_most", "auc_least", "auc_random")
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QUICK_SYNTHETIC = {"num_shapes": {"train": 330, "val": 44, "test": 110}}


@dataclass
class CompareConfig:
    """Settings of :func:`run_compare`.

    ``train`` holds extra :class:`TrainConfig` fields shared by all runs (model, alpha, beta,
    batch_size, ...); use at least 3 ``seeds`` for a meaningful spread (fewer run, and the
    command warns).
    """

    out: str = "runs/compare"
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    epochs: int = 10
    train: dict[str, Any] = field(default_factory=dict)
    fractions: tuple[float, ...] = FRACTIONS
    method: str = "lrp"
    eval_batch_size: int = 32

    def __post_init__(self):
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {list(self.seeds)}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if not self.fractions or any(not 0.0 <= f < 1.0 for f in self.fractions):
            raise ValueError(f"fractions must lie in [0, 1), got {list(self.fractions)}")


def train_config(cfg: CompareConfig, variant: str, seed: int):
    """The :class:`TrainConfig` of one run."""
    from ..train.config import TrainConfig

    kw = {"progress": False, "accelerator": "cpu", **cfg.train, **VARIANTS[variant]}
    out = Path(cfg.out) / "runs" / variant / f"seed{seed}"
    return TrainConfig(epochs=cfg.epochs, seed=seed, out=str(out), **kw)


def evaluate_run(checkpoint: str, cfg: CompareConfig, seed: int) -> dict[str, Any]:
    """Clean accuracy, mean class accuracy and occlusion curves/AUCs of one trained model."""
    from ..data import create_dataset
    from ..models.checkpoint import load_model
    from ..eval.classification import evaluate_classifier
    from ..eval.occlusion import OCCLUSION_ORDERS, occlusion_accuracy
    from ..eval.occlusion_report import curve_auc

    model, meta = load_model(checkpoint)
    test = create_dataset(meta["dataset"], "test", **meta["data_kwargs"])
    scores = evaluate_classifier(model, test, cfg.eval_batch_size)
    curves = occlusion_accuracy(model, test, list(cfg.fractions), OCCLUSION_ORDERS, cfg.method,
                                cfg.eval_batch_size, seed)
    result = {k: scores[k] for k in ("accuracy", "mean_class_accuracy")}
    result.update({f"auc_{o}": curve_auc(cfg.fractions, curves[o]) for o in OCCLUSION_ORDERS})
    result["curves"] = curves
    return result


def run_one(cfg: CompareConfig, variant: str, seed: int, log=print) -> dict[str, Any]:
    """Train and evaluate one (variant, seed); reuses ``eval.json`` of a finished earlier run."""
    from ..train.run import train

    tc = train_config(cfg, variant, seed)
    done = Path(tc.out) / "eval.json"
    if done.is_file():
        stored = json.loads(done.read_text())
        if stored.get("config") == tc.to_dict() and stored.get("fractions") == list(cfg.fractions):
            log(f"[compare] {variant} seed {seed}: reusing {done}")
            return stored["result"]
    log(f"[compare] {variant} seed {seed}: training {tc.epochs} epochs -> {tc.out}")
    trained = train(tc)
    result = evaluate_run(trained["last_checkpoint"], cfg, seed)
    payload = {"config": tc.to_dict(), "fractions": list(cfg.fractions), "result": result}
    atomic_write_text(done, json.dumps(payload, indent=2))
    log(f"[compare] {variant} seed {seed}: " +
        ", ".join(f"{m} {result[m]:.3f}" for m in METRICS))
    return result


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarize(results: dict[str, dict[int, dict]]) -> dict[str, dict[str, tuple[float, float]]]:
    """variant -> metric -> (mean, std) over seeds."""
    return {
        v: {m: mean_std([r[m] for r in per_seed.values()]) for m in METRICS}
        for v, per_seed in results.items()
    }


def markdown_table(summary: dict[str, dict[str, tuple[float, float]]], seeds) -> str:
    """The results as a markdown table, mean +- std over ``seeds``."""
    head = ["variant", "clean acc", "mean class acc", "occl. AUC most-relevant-first",
            "occl. AUC least-relevant-first", "occl. AUC random"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v, s in summary.items():
        cells = [f"{s[m][0]:.3f} ± {s[m][1]:.3f}" for m in METRICS]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"mean ± sample std over {len(seeds)} seeds ({', '.join(map(str, seeds))}); "
                 "occl. AUC = area under accuracy vs fraction of points removed (trapezoid over "
                 "the removal fractions; each model removes points by its own relevance). Higher "
                 "most-relevant-first AUC = more robust when the evidence it relies on is "
                 "removed.")
    return "\n".join(lines) + "\n"


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def write_outputs(cfg: CompareConfig, results: dict[str, dict[int, dict]]) -> str:
    """Write results.csv, curves.csv, results.md and the plots; return the markdown table."""
    out = Path(cfg.out)
    rows = [["variant", "seed", *METRICS]]
    curve_rows = [["variant", "seed", "order", *[f"{f:g}" for f in cfg.fractions]]]
    for v, per_seed in results.items():
        for s, r in per_seed.items():
            rows.append([v, s, *[f"{r[m]:.6f}" for m in METRICS]])
            for order, accs in r["curves"].items():
                curve_rows.append([v, s, order, *[f"{a:.6f}" for a in accs]])
    atomic_write_text(out / "results.csv", _csv(rows))
    atomic_write_text(out / "curves.csv", _csv(curve_rows))
    table = markdown_table(summarize(results), cfg.seeds)
    atomic_write_text(out / "results.md", "# reldrop3d compare\n\n" + table)
    plot_results(cfg, results)
    return table


def plot_results(cfg: CompareConfig, results: dict[str, dict[int, dict]]) -> None:
    """``occlusion_curves.png`` (mean +- std per variant, most-relevant-first and random) and
    ``metrics.png`` (bars with error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(cfg.out)
    x = np.asarray(cfg.fractions)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120, sharey=True)
    for ax, order in zip(axes, ("most", "random")):
        for v, per_seed in results.items():
            ys = np.asarray([r["curves"][order] for r in per_seed.values()])
            mean = ys.mean(0)
            std = ys.std(0, ddof=1) if len(ys) > 1 else np.zeros_like(mean)
            ax.plot(x, mean, marker="o", ms=3, label=v)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_title(f"{order}-relevant first" if order != "random" else "random removal")
        ax.set_xlabel("fraction of points removed")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].set_ylim(0, 1)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out / "occlusion_curves.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

    summary = summarize(results)
    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=120)
    width = 0.8 / max(len(summary), 1)
    pos = np.arange(len(METRICS))
    for i, (v, s) in enumerate(summary.items()):
        ax.bar(pos + i * width, [s[m][0] for m in METRICS], width,
               yerr=[s[m][1] for m in METRICS], capsize=2, label=v)
    ax.set_xticks(pos + width * (len(summary) - 1) / 2, METRICS, fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "metrics.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def run_compare(cfg: CompareConfig, log=print) -> tuple[dict[str, dict[int, dict]], str]:
    """Run every (variant, seed), write the outputs; returns (results, markdown table)."""
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    results = {v: {s: run_one(cfg, v, s, log) for s in cfg.seeds} for v in cfg.variants}
    return results, write_outputs(cfg, results)
