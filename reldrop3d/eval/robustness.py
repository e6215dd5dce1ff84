"""Robustness to the ModelNet-C corruptions (:mod:`reldrop3d.data.corruptions`) of any checkpoint.

The clean test split of the data set a checkpoint was trained on is rebuilt at 1,024 points (as
ModelNet-C takes 1,024 points per test shape) and every corruption is applied at its five
severities, deterministically from ``seed``. The corrupted sets are cached
(:mod:`reldrop3d.data.cache`: atomic writes, fingerprinted by the clean arrays, the seed and
:data:`~reldrop3d.data.corruptions.CORRUPTION_VERSION`), so a second checkpoint is evaluated on
the identical clouds.

Metrics (ModelNet-C's definitions, ``docs/robustness.md``), per corruption ``c`` and severity ``s``
an error ``E(c, s)``: the error rate ``1 - OA`` for a classifier, ``1 - instance mIoU`` for a part
segmenter (added points carry the ignore label and are left out of the IoU):

* ``E(c)`` = mean over the five severities; with a reference model ``ref``:
* ``CE(c) = E(c) / E_ref(c)``, ``mCE`` = mean over the corruptions of ``CE(c)``;
* ``RCE(c) = (E(c) - E_clean) / (E_ref(c) - E_ref,clean)``, relative mCE = mean of ``RCE(c)``.

ModelNet-C normalises by DGCNN trained on ModelNet40; here the reference is any checkpoint of the
same task and data set (``reference=``). Without one only the raw errors are reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data import DataError, create_dataset
from ..data.cache import default_cache_root, load_or_build
from ..data.corruptions import (
    CORRUPTION_VERSION,
    IGNORE_LABEL,
    REFERENCE_POINTS,
    SEVERITIES,
    check_corruption_names,
    corrupt,
    corruption_generator,
    follow,
    get_corruption,
    list_corruptions,
)
from ..utils.io import atomic_path, atomic_write_text

CLEAN = "clean"


@dataclass
class CleanSet:
    """The clean test arrays a robustness evaluation corrupts.

    Attributes
    ----------
    points : Tensor (M, N, 3)
    normals : Tensor (M, N, 3) or None
    labels : LongTensor (M,)
    parts : LongTensor (M, N) or None (part labels, for part segmentation)
    dataset : the data set object (classes, part tables)
    fingerprint : str, SHA-1 of the arrays
    """

    points: torch.Tensor
    normals: torch.Tensor | None
    labels: torch.Tensor
    parts: torch.Tensor | None
    dataset: Any
    fingerprint: str

    def __len__(self) -> int:
        return len(self.labels)


def clean_test_set(meta: dict, split: str = "test", num_points: int = REFERENCE_POINTS,
                   data_root: str | None = None) -> CleanSet:
    """Rebuild the test split of the checkpoint's data set at ``num_points`` points.

    Raises
    ------
    DataError
        The data set has no such split (or it cannot be read); the message names it.
    """
    kwargs = dict(meta["data_kwargs"])
    if data_root:
        kwargs["root"] = data_root
    kwargs["num_points"] = int(num_points)
    name = meta["dataset"]
    try:
        ds = create_dataset(name, split, **kwargs)
    except (DataError, FileNotFoundError, ValueError, KeyError) as err:
        where = kwargs.get("root") or f"the default folder of {name}"
        raise DataError(f"robustness needs the {split!r} split of {name!r} ({where}), which cannot "
                        f"be loaded: {err}") from None
    if len(ds) == 0:
        raise DataError(f"the {split!r} split of {name!r} is empty")
    samples = [ds[i] for i in range(len(ds))]
    batch = torch.utils.data.default_collate(samples)
    points = batch["points"].float().contiguous()
    normals = batch["normals"].float().contiguous() if "normals" in batch else None
    parts = batch["parts"].long() if "parts" in batch else None
    labels = batch["label"].long()
    h = hashlib.sha1(f"{name}|{split}|{points.shape}".encode())
    for t in (points, normals, labels, parts):
        if t is not None:
            h.update(t.numpy().tobytes())
    return CleanSet(points, normals, labels, parts, ds, h.hexdigest())


def corrupted_arrays(clean: CleanSet, name: str, severity: int, seed: int = 0,
                     cache_dir: str | Path | None = None,
                     use_cache: bool = True) -> dict[str, np.ndarray]:
    """The corrupted set (``name``, ``severity``) of ``clean``, from the cache or generated.

    Returns
    -------
    dict with ``points`` (M, N', 3) float32, ``source`` (M, N') int64 (-1: added point) and
    ``normals`` (M, N', 3) when the clean set has normals.
    """
    get_corruption(name)
    fingerprint = f"{clean.fingerprint}|{name}|{severity}|seed{seed}|v{CORRUPTION_VERSION}"
    path = None
    if use_cache:
        base = Path(cache_dir) if cache_dir is not None else default_cache_root()
        tag = hashlib.sha1(fingerprint.encode()).hexdigest()[:12]
        path = base / "corruptions" / clean.fingerprint[:16] / f"{name}-s{severity}-seed{seed}-{tag}.npz"

    def build() -> dict[str, np.ndarray]:
        out = corrupt(name, clean.points, severity, corruption_generator(seed, name, severity),
                      clean.normals)
        arrays = {"points": out.points.numpy().astype(np.float32), "source": out.source.numpy()}
        if out.normals is not None:
            arrays["normals"] = out.normals.numpy().astype(np.float32)
        return arrays

    return load_or_build(path, fingerprint, build)


@torch.inference_mode()
def per_shape_scores(model: nn.Module, task: str, points: torch.Tensor, normals: torch.Tensor | None,
                     labels: torch.Tensor, parts: torch.Tensor | None = None, table=None,
                     batch_size: int = 64, device: str | torch.device = "cpu") -> torch.Tensor:
    """Per-shape score of ``model`` on one (corrupted) set, batched, in eval mode.

    Parameters
    ----------
    task : {"cls", "partseg"}
    points : Tensor (M, N, 3)
    normals : Tensor (M, N, 3) or None
        Concatenated to the points when given (models trained with normals).
    labels : LongTensor (M,)
    parts : LongTensor (M, N), for ``partseg`` (``-1`` = ignore)
    table : BoolTensor (classes, parts), for ``partseg`` (:func:`.segmentation.part_table`)

    Returns
    -------
    Tensor (M,) float64: 1.0 / 0.0 for a correct / wrong classification, or the shape's mIoU.
    """
    from ..train.metrics import shape_ious

    model.eval().to(device)
    out = []
    for i in range(0, len(labels), batch_size):
        x = points[i:i + batch_size]
        if normals is not None:
            x = torch.cat([x, normals[i:i + batch_size]], -1)
        x, y = x.to(device), labels[i:i + batch_size].to(device)
        if task == "partseg":
            logits = model(x, y)
            out.append(shape_ious(logits, parts[i:i + batch_size].to(device), y, table).cpu())
        else:
            out.append((model(x).argmax(-1) == y).double().cpu())
    return torch.cat(out)


@dataclass
class RobustnessResult:
    """Scores of one model on the clean and corrupted sets.

    ``scores[c]`` is a (S, M) array: per severity, per test shape (correct 1/0, or IoU);
    ``clean`` is (M,). ``error(c)`` etc. are the ModelNet-C metrics.
    """

    checkpoint: str
    task: str
    clean: np.ndarray
    scores: dict[str, np.ndarray]
    severities: tuple[int, ...] = SEVERITIES

    @property
    def corruptions(self) -> list[str]:
        return list(self.scores)

    @property
    def clean_error(self) -> float:
        return float(1 - self.clean.mean())

    def errors(self, name: str) -> list[float]:
        """Error per severity of corruption ``name``."""
        return [float(1 - row.mean()) for row in self.scores[name]]

    def error(self, name: str) -> float:
        """Mean error over the severities, ``E(c)``."""
        return float(np.mean(self.errors(name)))

    def mean_error(self) -> float:
        """Mean of ``E(c)`` over the corruptions (unnormalised)."""
        return float(np.mean([self.error(c) for c in self.corruptions]))


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def ce(result: RobustnessResult, reference: RobustnessResult, name: str) -> float:
    """``CE(c) = E(c) / E_ref(c)`` (NaN when the reference makes no error on ``c``)."""
    return _ratio(result.error(name), reference.error(name))


def rce(result: RobustnessResult, reference: RobustnessResult, name: str) -> float:
    """``RCE(c) = (E(c) - E_clean) / (E_ref(c) - E_ref,clean)`` (NaN when the corruption does not
    hurt the reference)."""
    return _ratio(result.error(name) - result.clean_error,
                  reference.error(name) - reference.clean_error)


def mce(result: RobustnessResult, reference: RobustnessResult) -> float:
    """Mean corruption error: mean over the corruptions of :func:`ce`."""
    return float(np.mean([ce(result, reference, c) for c in result.corruptions]))


def relative_mce(result: RobustnessResult, reference: RobustnessResult) -> float:
    """Relative mean corruption error: mean over the corruptions of :func:`rce`."""
    return float(np.mean([rce(result, reference, c) for c in result.corruptions]))


@dataclass
class RobustnessReport:
    """The evaluation of one checkpoint (and optionally a reference) on one data set."""

    model: RobustnessResult
    reference: RobustnessResult | None
    dataset: str
    num_shapes: int
    num_points: int
    seed: int
    metric: str
    timing: dict[str, float] = field(default_factory=dict)


def evaluate_robustness(
    checkpoint: str | Path,
    reference: str | Path | None = None,
    corruptions=None,
    severities=SEVERITIES,
    seed: int = 0,
    num_points: int = REFERENCE_POINTS,
    split: str = "test",
    data_root: str | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = False,
    num_shapes: int | None = None,
) -> RobustnessReport:
    """Evaluate a checkpoint (and ``reference``) on the corrupted test sets.

    Parameters
    ----------
    checkpoint, reference : path
        Checkpoints written by ``reldrop3d train`` (point clouds; classification or part
        segmentation; the reference of the same task and data set).
    corruptions : list of str, optional
        Default: all seven (:func:`reldrop3d.data.corruptions.list_corruptions`).
    severities : tuple of int in 1..5
    seed : int
        Seed of the corrupted sets.
    num_points : int
        Points per clean test cloud (ModelNet-C: 1,024).
    num_shapes : int, optional
        Evaluate only the first ``num_shapes`` test shapes.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    RobustnessReport
    """
    from ..models.checkpoint import CheckpointError, load_model
    from ..train.metrics import part_table

    names = check_corruption_names(corruptions if corruptions is not None else list_corruptions())
    severities = tuple(severities)
    bad = [s for s in severities if s not in SEVERITIES]
    if bad or not severities:
        raise ValueError(f"severities must be a non-empty subset of {SEVERITIES}, got {list(severities)}")
    model, meta = load_model(checkpoint, modality="points")
    task = meta.get("task", "cls")
    if task == "partseg":
        unsupported = [n for n in names if not get_corruption(n).supports_labels]
        if unsupported:
            raise ValueError(f"checkpoint {checkpoint} is a part segmenter; corruption(s) "
                             f"{', '.join(unsupported)} cannot carry per-point labels (cls only)")
    models = {"model": (model, str(checkpoint))}
    if reference is not None:
        ref_model, ref_meta = load_model(reference, task=task, modality="points")
        if ref_meta["dataset"] != meta["dataset"] or list(ref_meta["classes"]) != list(meta["classes"]):
            raise CheckpointError(
                f"reference {reference} was trained on {ref_meta['dataset']} "
                f"({len(ref_meta['classes'])} classes), the checkpoint on {meta['dataset']} "
                f"({len(meta['classes'])} classes); both must share the data set")
        if bool(ref_meta.get("use_normals")) != bool(meta.get("use_normals")):
            raise CheckpointError(
                f"reference {reference} and checkpoint {checkpoint} differ in their input: one "
                "takes normals, the other does not")
        models["reference"] = (ref_model, str(reference))
    t0 = time.perf_counter()
    clean = clean_test_set(meta, split, num_points, data_root)
    if num_shapes is not None:
        clean = _head(clean, num_shapes)
    timing = {"load_clean_s": time.perf_counter() - t0, "generate_s": 0.0, "inference_s": 0.0}
    table = None
    if task == "partseg":
        ds = clean.dataset
        table = part_table(ds.num_classes, ds.num_parts, ds.parts_of_class)

    def score(m, pts, nrm, parts):
        t = time.perf_counter()
        s = per_shape_scores(m, task, pts, nrm, clean.labels, parts, table, batch_size, device)
        timing["inference_s"] += time.perf_counter() - t
        return s.numpy()

    sets = [(CLEAN, 0)] + [(n, s) for n in names for s in severities]
    bar = _progress(len(sets), progress)
    clean_scores = {k: score(m, clean.points, clean.normals, clean.parts) for k, (m, _) in models.items()}
    bar.update(1)
    scores = {k: {n: [] for n in names} for k in models}
    for name, sev in sets[1:]:
        bar.set_postfix_str(f"{name} s{sev}")
        t = time.perf_counter()
        arrays = corrupted_arrays(clean, name, sev, seed, cache_dir, use_cache)
        timing["generate_s"] += time.perf_counter() - t
        pts = torch.from_numpy(arrays["points"])
        nrm = torch.from_numpy(arrays["normals"]) if "normals" in arrays else None
        source = torch.from_numpy(arrays["source"])
        parts = follow(clean.parts, source, IGNORE_LABEL) if task == "partseg" else None
        for k, (m, _) in models.items():
            scores[k][name].append(score(m, pts, nrm, parts))
        bar.update(1)
    bar.close()
    results = {
        k: RobustnessResult(label, task, clean_scores[k], {n: np.stack(v) for n, v in scores[k].items()},
                            severities)
        for k, (_, label) in [(k, models[k]) for k in models]
    }
    return RobustnessReport(
        model=results["model"], reference=results.get("reference"), dataset=meta["dataset"],
        num_shapes=len(clean), num_points=int(num_points), seed=int(seed),
        metric="1 - instance mIoU" if task == "partseg" else "error rate (1 - OA)", timing=timing,
    )


def _head(clean: CleanSet, n: int) -> CleanSet:
    if n < 1:
        raise ValueError(f"num_shapes must be >= 1, got {n}")
    cut = slice(0, n)
    pick = (lambda t: None if t is None else t[cut].contiguous())
    fp = hashlib.sha1(f"{clean.fingerprint}|head{n}".encode()).hexdigest()
    return CleanSet(pick(clean.points), pick(clean.normals), clean.labels[cut], pick(clean.parts),
                    clean.dataset, fp)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="corrupted sets", unit="set", file=sys.stderr)


# -- reports -------------------------------------------------------------------------------------


def report_rows(report: RobustnessReport) -> list[dict[str, Any]]:
    """One row per (model, corruption, severity) with its error (the long CSV)."""
    rows = []
    for role, r in (("model", report.model), ("reference", report.reference)):
        if r is None:
            continue
        rows.append({"role": role, "checkpoint": r.checkpoint, "corruption": CLEAN, "severity": 0,
                     "error": r.clean_error})
        for c in r.corruptions:
            for s, e in zip(r.severities, r.errors(c)):
                rows.append({"role": role, "checkpoint": r.checkpoint, "corruption": c,
                             "severity": s, "error": e})
    return rows


def summary_rows(report: RobustnessReport) -> list[dict[str, Any]]:
    """One row per corruption: E(c), and with a reference E_ref(c), CE and RCE."""
    m, ref = report.model, report.reference
    rows = []
    for c in m.corruptions:
        row = {"corruption": c, "error": m.error(c)}
        if ref is not None:
            row.update(reference_error=ref.error(c), CE=ce(m, ref, c), RCE=rce(m, ref, c))
        rows.append(row)
    return rows


def markdown_report(report: RobustnessReport) -> str:
    """The tables: error per corruption x severity, E(c), CE and RCE; mCE and relative mCE."""
    m, ref = report.model, report.reference
    sev = list(m.severities)
    head = ["corruption", *[f"s{s}" for s in sev], "E(c)"] + (["E_ref(c)", "CE", "RCE"] if ref else [])
    lines = [f"checkpoint: {m.checkpoint}",
             f"data: {report.dataset} test split, {report.num_shapes} shapes x {report.num_points} "
             f"points, corruption seed {report.seed}; metric: {report.metric}",
             f"reference: {ref.checkpoint}" if ref else
             "reference: none -- raw errors only (ModelNet-C normalises by DGCNN; give "
             "--reference CKPT for CE, mCE and relative mCE)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append("| clean | " + " | ".join([""] * len(sev)) + f" | {m.clean_error:.4f} |" +
                 (f" {ref.clean_error:.4f} | | |" if ref else ""))
    for c in m.corruptions:
        cells = [f"{e:.4f}" for e in m.errors(c)] + [f"{m.error(c):.4f}"]
        if ref:
            cells += [f"{ref.error(c):.4f}", f"{ce(m, ref, c):.3f}", f"{rce(m, ref, c):.3f}"]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"mean error over corruptions (unnormalised): {m.mean_error():.4f}")
    if ref:
        lines.append(f"mCE: {mce(m, ref):.3f}   relative mCE: {relative_mce(m, ref):.3f}   "
                     f"(the reference: mean error {ref.mean_error():.4f}, its own mCE 1)")
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def plot_heatmap(report: RobustnessReport, path: str | Path) -> None:
    """Heat map of the error per corruption (rows) and severity (columns), annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report.model
    data = np.array([m.errors(c) for c in m.corruptions])
    fig, ax = plt.subplots(figsize=(1.2 * len(m.severities) + 3, 0.5 * len(m.corruptions) + 1.6),
                           dpi=120)
    im = ax.imshow(data, cmap="magma_r", vmin=0, vmax=max(1e-6, float(np.nanmax(data))))
    ax.set_xticks(range(len(m.severities)), [f"severity {s}" for s in m.severities], fontsize=8)
    ax.set_yticks(range(len(m.corruptions)), m.corruptions, fontsize=8)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            ax.text(j, i, f"{data[i, j]:.3f}", ha="center", va="center", fontsize=7,
                    color="white" if data[i, j] > 0.6 * np.nanmax(data) else "black")
    ax.set_title(f"{report.metric}, {Path(m.checkpoint).name} (clean {m.clean_error:.3f})",
                 fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_robustness_report(report: RobustnessReport, out: str | Path) -> str:
    """Write ``robustness.csv`` (per corruption x severity), ``robustness_summary.csv``
    (E(c), CE, RCE), ``robustness.md`` and ``robustness.png`` into ``out``; return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_report(report)
    atomic_write_text(out / "robustness.csv", _csv(report_rows(report)))
    atomic_write_text(out / "robustness_summary.csv", _csv(summary_rows(report)))
    atomic_write_text(out / "robustness.md", "# reldrop3d robustness (ModelNet-C corruptions)\n\n" + md)
    plot_heatmap(report, out / "robustness.png")
    return md


__all__ = [
    "CleanSet",
    "RobustnessReport",
    "RobustnessResult",
    "ce",
    "clean_test_set",
    "corrupted_arrays",
    "evaluate_robustness",
    "markdown_report",
    "mce",
    "per_shape_scores",
    "plot_heatmap",
    "rce",
    "relative_mce",
    "write_robustness_report",
]
