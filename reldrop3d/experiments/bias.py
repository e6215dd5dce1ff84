"""The background-bias benchmark: train on shapes with a class-correlated clutter blob, test
without the shortcut.

Training data: ``synthetic`` with ``clutter="biased"`` (the blob sits at the anchor of the shape's
class); the reference ``unbiased`` trains on ``clutter="random"`` (blob anywhere: no shortcut).
Test data: ``"biased"`` (the shortcut still works), ``"shuffled"`` (the blob sits at
another class's anchor: the shortcut misleads) and ``"none"`` (no blob). Methods: ``baseline``
(cross entropy), ``reldrop`` (RelDrop input dropout, LRP relevance) and every guidance loss of
:mod:`reldrop3d.guidance`. Each (method, seed) run trains a fresh model with a small,
self-contained loop on in-memory tensors (no geometric augmentation: a rotation would move the
blob and destroy the shortcut the benchmark is about).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..data import create_dataset
from ..eval.classification import accuracy_scores
from ..explain import relevance
from ..guidance import GUIDANCE, ISNetLoss, create_guidance, energy_pointing_game, tune_isnet_bounds
from ..masking import defaults
from ..masking.api import make_masker
from ..models import create_model
from ..train.loss import training_loss

BASELINES = ("baseline", "reldrop", "unbiased")
DEFAULT_METHODS = ("unbiased", "baseline", "reldrop", "rrr", "gradmask", "actdiff", "energy",
                   "l1", "ppce", "isnet")
# Weight of each guidance loss in CE + weight * loss, from two small trials (docs/guidance.md):
# rrr 10 and gradmask 1 stopped the model from learning (-> 0.1); energy 1, l1 1 and 5, ppce 0.1
# changed nothing (-> raised), ppce 1 stopped learning (-> 0.3); actdiff and isnet kept at 1.
DEFAULT_WEIGHTS = {
    "rrr": 0.1,
    "gradmask": 0.1,
    "actdiff": 1.0,
    "energy": 5.0,
    "l1": 20.0,
    "ppce": 0.3,
    "isnet": 1.0,
}
TEST_SETS = ("biased", "shuffled", "none")
BENCH_DATA = ("synthetic", "digits")


@dataclass
class BiasBenchmarkConfig:
    """Settings of :func:`run_bias_benchmark` (defaults: the full benchmark)."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    model: str = "pointnet"
    num_points: int = 256
    clutter_points: int = 32
    train_shapes: int = 1100
    test_shapes: int = 550
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    alpha: float = defaults.ALPHA
    beta: float = defaults.BETA
    device: str = "cpu"
    data: str = "synthetic"
    image_size: int = 32

    def __post_init__(self):
        if self.data not in BENCH_DATA:
            raise ValueError(f"data must be one of {BENCH_DATA}, got {self.data!r}")
        if self.data == "digits" and (self.image_size < 8 or self.image_size % 8):
            raise ValueError(f"image_size must be a multiple of 8, got {self.image_size}")
        unknown = [m for m in self.methods if m not in BASELINES and m not in GUIDANCE]
        if unknown:
            raise ValueError(
                f"unknown method(s) {unknown}; choose from {list(BASELINES) + GUIDANCE.names()}"
            )
        if not self.seeds:
            raise ValueError("bias benchmark needs at least one seed")
        for name in ("num_points", "train_shapes", "test_shapes", "epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def model_name(self) -> str:
        """The model trained: ``small_cnn`` for ``digits`` unless another was asked for."""
        if self.data == "digits" and self.model == "pointnet":
            return "small_cnn"
        return self.model

    @classmethod
    def quick(cls, **overrides) -> BiasBenchmarkConfig:
        """A tiny setting for smoke tests (seconds per run)."""
        kw = dict(num_points=128, clutter_points=16, train_shapes=330, test_shapes=220, epochs=4)
        kw.update(overrides)
        return cls(**kw)


@dataclass
class BiasData:
    """In-memory tensors of one benchmark seed: ``train`` and one entry per test set, each
    ``(points (M, N, 3), labels (M,), roi (M, N) or None)``."""

    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    tests: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]
    num_classes: int
    unbiased_train: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None


def corner_patch_masks(num_classes: int, size: int) -> torch.Tensor:
    """Class-specific patch positions of the ``digits`` variant: (num_classes, size, size) bool,
    squares of side ``size // 8`` spread along the top and bottom border."""
    side = size // 8
    masks = torch.zeros(num_classes, size, size, dtype=torch.bool)
    per_row = (num_classes + 1) // 2
    step = (size - side) / max(per_row - 1, 1)
    for k in range(num_classes):
        row = 0 if k < per_row else size - side
        col = int(round((k % per_row) * step))
        masks[k, row : row + side, col : col + side] = True
    return masks


def make_digits_bias_data(cfg: BiasBenchmarkConfig, seed: int) -> BiasData:
    """The ``digits`` variant: scikit-learn's 8 x 8 digits upsampled to ``cfg.image_size``, with a
    bright corner patch at a class-specific border position (biased), another class's position
    (shuffled), a random one (the ``unbiased`` reference's training set) or none. ROI = the
    digit area, every row outside the top and bottom bands where the patches lie (so the
    background holds the patch and the empty border around it, as an object mask would).
    ``train_shapes`` / ``test_shapes`` cap the split sizes."""
    from ..data.digits import load_digits_arrays, split_indices

    images, labels = load_digits_arrays()
    k = int(labels.max()) + 1
    images = F.interpolate(images, size=(cfg.image_size,) * 2, mode="nearest")
    patches = corner_patch_masks(k, cfg.image_size)
    band = cfg.image_size // 8
    gen = torch.Generator().manual_seed(seed)

    def load(split, clutter, n):
        idx = split_indices(labels, split, seed)
        idx = idx[torch.randperm(len(idx), generator=gen)[:n]]
        x, y = images[idx].clone(), labels[idx]
        roi = torch.zeros(len(y), cfg.image_size, cfg.image_size, dtype=torch.bool)
        roi[:, band : cfg.image_size - band] = True
        if clutter != "none":
            if clutter == "biased":
                where = y
            elif clutter == "shuffled":
                where = (y + torch.randint(1, k, y.shape, generator=gen)) % k
            else:
                where = torch.randint(0, k, y.shape, generator=gen)
            x[:, 0][patches[where]] = 1.0
        dev = cfg.device
        return x.to(dev), y.to(dev), roi.to(dev)

    train = load("train", "biased", cfg.train_shapes)
    tests = {c: load("test", c, cfg.test_shapes) for c in TEST_SETS}
    unbiased = load("train", "random", cfg.train_shapes) if "unbiased" in cfg.methods else None
    return BiasData(train, tests, k, unbiased)


def make_bias_data(cfg: BiasBenchmarkConfig, seed: int) -> BiasData:
    """Biased training set and the three test sets of ``seed`` (see the module docstring),
    on ``cfg.device``."""

    if cfg.data == "digits":
        return make_digits_bias_data(cfg, seed)

    def load(split, clutter, n):
        ds = create_dataset("synthetic", split, num_points=cfg.num_points, num_shapes=n,
                            seed=seed, clutter=clutter, clutter_points=cfg.clutter_points)
        roi = ds.roi.to(cfg.device) if clutter != "none" else None
        return (ds.points.to(cfg.device), ds.labels().to(cfg.device), roi), ds.num_classes

    train, k = load("train", "biased", cfg.train_shapes)
    tests = {c: load("test", c, cfg.test_shapes)[0] for c in TEST_SETS}
    unbiased = load("train", "random", cfg.train_shapes)[0] if "unbiased" in cfg.methods else None
    return BiasData(train, tests, k, unbiased)


def _batches(n: int, batch_size: int, gen: torch.Generator | None = None, device="cpu"):
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return order.to(device).split(batch_size)


def train_model(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    method: str,
    cfg: BiasBenchmarkConfig,
    seed: int,
    guidance=None,
) -> list[float]:
    """Train ``model`` in place with ``method``; returns the seconds of every epoch.

    Parameters
    ----------
    model : nn.Module
    data : (points (M, N, 3), labels (M,), roi (M, N) bool)
    method : str
        ``baseline`` / ``unbiased`` (plain), ``reldrop`` or a guidance loss name (``guidance``
        then is the loss object, built by :func:`make_guidance` when omitted).
    cfg : BiasBenchmarkConfig
    seed : int
        Seeds the batch order (and RelDrop's masks).
    """
    points, labels, roi = data
    if method not in BASELINES and guidance is None:
        guidance = create_guidance(method)
    weight = cfg.weights.get(method, 1.0)
    masker = None
    if method == "reldrop":
        mode = "pixel" if points.dim() == 4 else "point"
        masker = make_masker(mode=mode, alpha=cfg.alpha, beta=cfg.beta)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs, eta_min=cfg.lr * 0.01)
    times = []
    for _ in range(cfg.epochs):
        model.train()
        start = time.perf_counter()
        for idx in _batches(len(labels), cfg.batch_size, gen, labels.device):
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            x, y, r = points[idx], labels[idx], roi[idx]
            if masker is not None:
                rel = relevance(model, x, y)
                x, _ = masker(x, rel, gen if rel.device.type == "cpu" else None)
            opt.zero_grad(set_to_none=True)
            training_loss(model, x, y, roi=r, guidance=guidance,
                          guidance_weight=weight).loss.backward()
            opt.step()
        sched.step()
        times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def accuracy(model: nn.Module, points: torch.Tensor, labels: torch.Tensor, batch_size=128) -> float:
    """Overall accuracy (:func:`reldrop3d.eval.classification.accuracy_scores`) of ``model``
    in eval mode on in-memory points (M, N, C) or images (M, C, H, W) and labels (M,)."""
    model.eval()
    pred = torch.cat([model(points[idx]).argmax(-1)
                      for idx in _batches(len(labels), batch_size, device=labels.device)])
    return accuracy_scores(pred, labels, int(labels.max()) + 1)["accuracy"]


def pointing_game(
    model: nn.Module, points: torch.Tensor, labels: torch.Tensor, roi: torch.Tensor,
    method: str = "lrp", batch_size: int = 128,
) -> float:
    """Mean energy pointing game: share of positive relevance (of the true class, ``method``)
    inside the ROI, averaged over the samples that have positive relevance."""
    shares = []
    for idx in _batches(len(labels), batch_size, device=labels.device):
        rel = relevance(model, points[idx], labels[idx], method=method)
        shares.append(energy_pointing_game(rel, roi[idx]))
    s = torch.cat(shares)
    return float(s[~s.isnan()].mean()) if (~s.isnan()).any() else math.nan


def make_guidance(method: str, baseline: nn.Module | None, data, cfg: BiasBenchmarkConfig):
    """The guidance loss of ``method``; ISNet's C1/C2 are tuned on the normally trained
    ``baseline`` over the training data."""
    if method != "isnet":
        return create_guidance(method)
    if baseline is None:
        raise ValueError("isnet needs a normally trained baseline to tune C1/C2")
    points, labels, roi = data
    batches = ((points[i], labels[i], roi[i])
               for i in _batches(len(labels), 128, device=labels.device))
    c1, c2 = tune_isnet_bounds(baseline, batches)
    return ISNetLoss(c1=c1, c2=c2)


def run_bias_benchmark(cfg: BiasBenchmarkConfig, log=print) -> list[dict]:
    """Train every method on every seed; one result dict per (method, seed).

    Each dict: ``method, seed, weight, acc_biased, acc_shuffled, acc_none, pointing_game
    (on the shuffled test set), epoch_seconds`` (mean over epochs), plus ``isnet_c1/c2``.
    """
    results = []
    methods = list(cfg.methods)
    need_baseline = "isnet" in methods
    if need_baseline and "baseline" in methods:
        methods.remove("baseline")
    model_name = cfg.model_name
    for seed in cfg.seeds:
        data = make_bias_data(cfg, seed)
        baseline = None
        order = (["baseline"] if need_baseline else []) + methods
        for method in order:
            torch.manual_seed(seed)
            model = create_model(model_name, num_classes=data.num_classes).to(cfg.device)
            guidance = None
            row = {"method": method, "seed": seed,
                   "weight": cfg.weights.get(method) if method not in BASELINES else None}
            if method not in BASELINES:
                guidance = make_guidance(method, baseline, data.train, cfg)
                if isinstance(guidance, ISNetLoss):
                    row.update(isnet_c1=guidance.c1, isnet_c2=guidance.c2)
            train = data.unbiased_train if method == "unbiased" else data.train
            times = train_model(model, train, method, cfg, seed, guidance)
            row["epoch_seconds"] = sum(times) / len(times)
            for name, (pts, lab, _) in data.tests.items():
                row[f"acc_{name}"] = accuracy(model, pts, lab)
            pts, lab, roi = data.tests["shuffled"]
            row["pointing_game"] = pointing_game(model, pts, lab, roi)
            if method == "baseline":
                baseline = model
            if method in cfg.methods:
                results.append(row)
            log(_row_line(row))
    return results


def _row_line(row: dict) -> str:
    return (f"seed {row['seed']} {row['method']:>9}: acc biased {row['acc_biased']:.3f} "
            f"shuffled {row['acc_shuffled']:.3f} none {row['acc_none']:.3f} "
            f"EPG {row['pointing_game']:.3f} {row['epoch_seconds']:.2f} s/epoch")


def _mean_std(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std()) if len(values) > 1 else 0.0
    return f"{float(t.mean()):.3f} ± {std:.3f}"


def format_table(results: list[dict], cfg: BiasBenchmarkConfig | None = None) -> str:
    """Markdown table: accuracies and pointing game as mean ± std over seeds, time per epoch
    relative to the baseline of the same seed (mean ± std of the per-seed ratios)."""
    base_time = {r["seed"]: r["epoch_seconds"] for r in results if r["method"] == "baseline"}
    methods = list(dict.fromkeys(r["method"] for r in results))
    lines = [
        "| method | weight | acc biased test | acc shuffled test | acc no-clutter test "
        "| energy pointing game | time / epoch vs baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        rows = [r for r in results if r["method"] == m]
        ratios = [r["epoch_seconds"] / base_time[r["seed"]] for r in rows if r["seed"] in base_time]
        weight = rows[0]["weight"]
        cells = [
            m,
            "-" if weight is None else f"{weight:g}",
            *(_mean_std([r[f"acc_{t}"] for r in rows]) for t in TEST_SETS),
            _mean_std([r["pointing_game"] for r in rows]),
            _mean_std(ratios) + "x" if ratios else "n/a",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({r["seed"] for r in results})
    lines.append("")
    lines.append(f"Seeds: {seeds}; mean ± std over seeds.")
    if cfg is not None:
        settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("methods",)}
        settings["model"] = cfg.model_name
        lines.append(f"Settings: {settings}")
    return "\n".join(lines) + "\n"
