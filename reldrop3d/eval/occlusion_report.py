"""Occlusion curves written to disk: CSV, PNG plot and the area under each curve."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..utils.io import atomic_path, atomic_write_text
from .occlusion import OCCLUSION_ORDERS, occlusion_accuracy

DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def curve_auc(fractions, accuracies) -> float:
    """Area under an accuracy-vs-fraction-removed curve (trapezoidal rule, x in [0, 1])."""
    x, y = np.asarray(fractions, float), np.asarray(accuracies, float)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def write_occlusion_report(model, dataset, out, method="lrp", fractions=DEFAULT_FRACTIONS,
                           batch_size=32, device="cpu", seed=0) -> str:
    """Compute occlusion curves for every removal order; write ``occlusion.csv`` and
    ``occlusion.png`` into ``out``; return a one-paragraph text summary with the AUCs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = occlusion_accuracy(model, dataset, list(fractions), OCCLUSION_ORDERS, method,
                                batch_size, seed, device)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["fraction_removed", *[f"acc_{o}_first" for o in OCCLUSION_ORDERS]])
    for i, f in enumerate(fractions):
        w.writerow([f, *[f"{curves[o][i]:.6f}" for o in OCCLUSION_ORDERS]])
    atomic_write_text(out / "occlusion.csv", buf.getvalue())
    aucs = {o: curve_auc(fractions, curves[o]) for o in OCCLUSION_ORDERS}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for o in OCCLUSION_ORDERS:
        ax.plot(fractions, curves[o], marker="o", label=f"{o} relevant first (AUC {aucs[o]:.3f})"
                if o != "random" else f"random (AUC {aucs[o]:.3f})")
    ax.set_xlabel("fraction of points removed")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out / "occlusion.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    summary = ", ".join(f"{o}-first AUC {aucs[o]:.3f}" for o in OCCLUSION_ORDERS)
    return f"occlusion ({method}): {summary}; written to {out}/occlusion.csv and occlusion.png"
