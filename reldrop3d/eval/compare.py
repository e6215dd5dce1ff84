"""The RelDrop paper's protocol in one call: train every input-dropout variant with the same seeds,
evaluate clean accuracy, mean class accuracy and occlusion AUCs, report mean +- std.

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

Also here: :func:`train_images`, a small training loop for image models (the 2D adapter) with
the same masking API.
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
    batch_size, ...); ``seeds`` must hold at least 3 seeds for a spread to be meaningful.
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
    from .classification import evaluate_classifier
    from .occlusion import OCCLUSION_ORDERS, occlusion_accuracy
    from .occlusion_report import curve_auc

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


# -- 2D adapter: a small training loop for image classifiers ------------------------------------


def train_images(
    model: nn.Module,
    train_set,
    test_set,
    masker=None,
    method: str = "lrp",
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train an image classifier with (optional) RelDrop masking; evaluate on ``test_set``.

    Per step, :func:`reldrop3d.masking.mask_batch` draws the share ``p`` of the batch to mask,
    explains only those images (:func:`reldrop3d.explain.images.image_relevance`, true class)
    and fills their dropped pixels; the model then trains on the masked batch.

    Parameters
    ----------
    model : nn.Module
        (B, C, H, W) -> (B, K).
    train_set, test_set : datasets of dicts with ``image`` (C, H, W) and ``label``
    masker : reldrop3d.masking.Masker, optional
        An image mode (``pixel``, ``block``, ``patch``, ``region``, ``grid_patch``, ``dropblock``,
        ``random_erasing``, ...); None trains without masking.
    method : str
        Relevance method for the masker.

    Returns
    -------
    dict with ``epoch_loss`` (list, mean training loss per epoch), ``accuracy`` (test),
    ``masked_share`` (mean share of pixels dropped per masked image).
    """
    from ..explain.images import image_relevance
    from ..masking import mask_batch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=gen)
    epoch_loss, dropped, masked = [], 0.0, 0
    for _ in range(epochs):
        total, count = 0.0, 0
        for batch in loader:
            x, y = batch["image"], batch["label"]
            if masker is not None:
                def explain(i, x=x, y=y):
                    return image_relevance(model, x[i], y[i], method=method)

                x, mask = mask_batch(masker, x, explain, gen)
                rows = mask.flatten(1).any(1)
                dropped += float(mask.flatten(1)[rows].float().mean(1).sum())
                masked += int(rows.sum())
            model.train()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(y), count + len(y)
        epoch_loss.append(total / count)
    model.eval()
    correct = 0
    with torch.no_grad():
        for batch in DataLoader(test_set, batch_size=256):
            correct += int((model(batch["image"]).argmax(1) == batch["label"]).sum())
    return {
        "epoch_loss": epoch_loss,
        "accuracy": correct / len(test_set),
        "masked_share": dropped / masked if masked else math.nan,
    }
