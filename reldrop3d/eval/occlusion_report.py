"""Occlusion curves written to disk: CSV, PNG plot and the area under each curve."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from ..data import batch_to_input
from ..explain import relevance
from ..utils.io import atomic_path, atomic_write_text
from .occlusion import OCCLUSION_MODES, OCCLUSION_ORDERS, occlusion_accuracy
from .spread import spread_metrics

DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def curve_auc(fractions, accuracies) -> float:
    """Area under an accuracy-vs-fraction-removed curve (trapezoidal rule, x in [0, 1])."""
    x, y = np.asarray(fractions, float), np.asarray(accuracies, float)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def dataset_spread(model, dataset, method="lrp", batch_size=32, device="cpu") -> dict[str, float]:
    """Relevance-spread metrics (:mod:`.spread`) averaged over a data set (true-class relevance)."""
    sums: dict[str, float] = {}
    n = 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = batch_to_input(batch).to(device)
        r = relevance(model, x, batch["label"].to(device), method=method)
        for key, v in spread_metrics(r).items():
            sums[key] = sums.get(key, 0.0) + v * len(x)
        n += len(x)
    return {key: v / max(n, 1) for key, v in sums.items()}


def write_occlusion_report(model, dataset, out, method="lrp", fractions=DEFAULT_FRACTIONS,
                           batch_size=32, device="cpu", seed=0) -> str:
    """Occlusion curves for every removal order, point-wise and region-wise, and the relevance
    spread; writes ``occlusion.csv``, ``occlusion.png`` and ``spread.csv`` into ``out`` and
    returns a text summary with the areas under the curves."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {
        mode: occlusion_accuracy(model, dataset, list(fractions), OCCLUSION_ORDERS, method,
                                 batch_size, seed, device, mode=mode)
        for mode in OCCLUSION_MODES
    }
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["fraction_removed", *[f"acc_{m}_{o}_first" for m in OCCLUSION_MODES for o in OCCLUSION_ORDERS]])
    for i, f in enumerate(fractions):
        w.writerow([f, *[f"{curves[m][o][i]:.6f}" for m in OCCLUSION_MODES for o in OCCLUSION_ORDERS]])
    atomic_write_text(out / "occlusion.csv", buf.getvalue())
    aucs = {(m, o): curve_auc(fractions, curves[m][o]) for m in OCCLUSION_MODES for o in OCCLUSION_ORDERS}
    spread = dataset_spread(model, dataset, method, batch_size, device)
    atomic_write_text(out / "spread.csv", "metric,value\n" + "".join(f"{k},{v:.6f}\n" for k, v in spread.items()))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), dpi=120, sharey=True)
    for ax, mode in zip(axes, OCCLUSION_MODES):
        for o in OCCLUSION_ORDERS:
            label = f"{o} relevant first" if o != "random" else "random"
            ax.plot(fractions, curves[mode][o], marker="o", label=f"{label} (AUC {aucs[mode, o]:.3f})")
        ax.set_title(f"{mode}-wise removal")
        ax.set_xlabel("fraction of points removed")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    with atomic_path(out / "occlusion.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    lines = [f"occlusion ({method}), area under accuracy-vs-removed curves:"]
    for mode in OCCLUSION_MODES:
        lines.append(f"  {mode:6s} " + ", ".join(f"{o}-first {aucs[mode, o]:.3f}" for o in OCCLUSION_ORDERS))
    lines.append("relevance spread: " + ", ".join(f"{k} {v:.3f}" for k, v in spread.items()))
    lines.append(f"written to {out}/occlusion.csv, occlusion.png, spread.csv")
    return "\n".join(lines)
