"""Compare input-dropout variants in one call: train every variant with the same seeds,
evaluate clean accuracy, mean class accuracy, occlusion AUCs and corruption errors, and state for
every variant its difference to the baseline with a confidence interval and a verdict.

This is the project's comparison protocol (docs/fidelity.md says where it differs from the
official RelDrop runs: e.g. the last checkpoint is evaluated, nothing is selected on test).

Variants (each a :class:`reldrop3d.train.config.TrainConfig` override, :data:`VARIANTS`):

================== ===========================================================================
``baseline``        no input dropout
``random``          PointNet++'s random input dropout
``reldrop_point``   RelDrop, the paper's rule per point
``reldrop_region``  RelDrop, spatially balanced regions (:mod:`reldrop3d.masking.region`)
================== ===========================================================================

Metrics per run (:data:`METRICS`): clean overall accuracy, mean class accuracy, the areas under
the occlusion curves (most-relevant-first = MoRF, least-relevant-first = LeRF, random; each model
removes points by its own relevance), and with ``robustness=True`` the mean corruption error over
the ModelNet-C corruptions (:mod:`reldrop3d.eval.robustness`; raw error rates, not normalised by a
reference model) and the dropout-local error; derived once the baseline has run
(:data:`DERIVED_METRICS`), ModelNet-C's mCE with the baseline of the same seed as the reference
model (:func:`add_mce_vs_baseline`). Differences to the baseline
(:func:`differences`, :mod:`reldrop3d.experiments.stats`): paired over seeds with Student's t
interval when there are several seeds, a paired bootstrap over the test shapes for one seed.

Outputs in ``out``: ``runs/<variant>/seed<k>/`` (training run + ``eval.json`` with the scores and
the per-shape predictions; a finished run is reused when the command is repeated, only
re-evaluated when just the evaluation settings changed, an interrupted one resumed from its
``last.ckpt`` and one of other settings replaced), ``results.csv`` (one row per run),
``differences.csv``, ``curves.csv`` (occlusion curves per run), ``results.md`` (the tables),
``occlusion_curves.png`` and ``metrics.png``. The models evaluated are the *last* checkpoints: all
variants train for the same number of epochs and no variant is selected on the test split.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.io import atomic_path, atomic_write_text
from .stats import (
    NO_DIFFERENCE,
    bootstrap_difference,
    no_spread,
    paired_difference,
    sign_test_p,
    verdict,
)

VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"augment": "none"},
    "random": {"augment": "random"},
    "reldrop_point": {"augment": "reldrop", "mask_mode": "point"},
    # the relevance of each sample reused for 4 epochs (--relevance-every 4)
    "reldrop_point_k4": {"augment": "reldrop", "mask_mode": "point", "relevance_every": 4},
    "reldrop_region": {"augment": "reldrop", "mask_mode": "region"},
}
BASELINE = "baseline"
#: metrics of every run; the last two need ``robustness=True``
METRICS = ("accuracy", "mean_class_accuracy", "auc_most", "auc_least", "auc_random", "mce",
           "dropout_local_error")
ROBUSTNESS_METRICS = ("mce", "dropout_local_error")
#: column headings of the tables
METRIC_NAMES = {
    "accuracy": "clean OA",
    "mean_class_accuracy": "mAcc",
    "auc_most": "MoRF AUC",
    "auc_least": "LeRF AUC",
    "auc_random": "random-removal AUC",
    "mce": "mean corruption error (raw)",
    "dropout_local_error": "dropout-local error",
}
#: metrics derived from several runs (not evaluated per run): ModelNet-C's mCE of each run with
#: the baseline of the same seed as the reference (1 for the baseline itself; needs robustness)
DERIVED_METRICS = ("mce_vs_baseline",)
METRIC_NAMES["mce_vs_baseline"] = "mCE (ref. baseline)"
HIGHER_IS_BETTER = {m: m not in ROBUSTNESS_METRICS for m in METRICS}
HIGHER_IS_BETTER["mce_vs_baseline"] = False
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QUICK_SYNTHETIC = {"num_shapes": {"train": 330, "val": 44, "test": 110}}
#: ModelNet-C's severities (``severities`` picks a subset for speed)
SEVERITIES = (1, 2, 3, 4, 5)


@dataclass
class CompareConfig:
    """Settings of :func:`run_compare`.

    ``train`` holds extra :class:`TrainConfig` fields shared by all runs (model, alpha, beta,
    batch_size, ...); use at least 3 ``seeds`` for a meaningful spread (fewer run, and the
    command warns).

    Attributes
    ----------
    baseline : str
        The variant every other one is compared with (must be one of ``variants``).
    jobs : int
        Runs trained at the same time, each in its own process (torch threads per process:
        ``max(1, cores // jobs)``); results are the same as with ``jobs=1``.
    robustness : bool
        Also evaluate every run on the ModelNet-C corruptions (mean corruption error and
        dropout-local error columns).
    corruptions : tuple of str, optional
        Subset of the corruptions (default: all seven).
    severities : tuple of int
        Subset of the severities 1..5 (fewer = faster).
    robustness_points : int
        Points per clean test cloud the corruptions start from (ModelNet-C: 1,024; its point
        counts, e.g. dropout-local's 100..500 removed points, are defined for 1,024).
    corruption_seed : int
        Seed of the corrupted sets: the same clouds for every variant and seed (paired).
    confidence : float
        Coverage of the difference intervals.
    n_boot : int
        Bootstrap replicates for single-seed comparisons.
    cache_dir : str, optional
        Where the corrupted sets are cached (default: :func:`reldrop3d.data.cache.default_cache_root`).
    """

    out: str = "runs/compare"
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    epochs: int = 10
    train: dict[str, Any] = field(default_factory=dict)
    fractions: tuple[float, ...] = FRACTIONS
    method: str = "lrp"
    eval_batch_size: int = 32
    baseline: str = BASELINE
    jobs: int = 1
    robustness: bool = False
    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = SEVERITIES
    robustness_points: int = 1024
    corruption_seed: int = 0
    confidence: float = 0.95
    n_boot: int = 2000
    cache_dir: str | None = None

    def __post_init__(self):
        self.seeds, self.variants = tuple(self.seeds), tuple(self.variants)
        self.fractions, self.severities = tuple(self.fractions), tuple(self.severities)
        if self.corruptions is not None:
            self.corruptions = tuple(self.corruptions)
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
        if not self.variants or len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must be distinct and non-empty, got {list(self.variants)}")
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {list(self.seeds)}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"--seeds must be integers >= 0, got {list(self.seeds)}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if not self.fractions or any(not 0.0 <= f < 1.0 for f in self.fractions):
            raise ValueError(f"fractions must lie in [0, 1), got {list(self.fractions)}")
        if list(self.fractions) != sorted(set(self.fractions)):
            raise ValueError(f"fractions must be increasing and distinct, got {list(self.fractions)}")
        if self.baseline not in VARIANTS:
            raise ValueError(f"baseline {self.baseline!r} is not a variant; choose from {list(VARIANTS)}")
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")
        if not self.severities or any(s not in SEVERITIES for s in self.severities):
            raise ValueError(f"severities must be a non-empty subset of {SEVERITIES}, got "
                             f"{list(self.severities)}")
        if self.robustness_points < 1:
            raise ValueError(f"robustness_points must be positive, got {self.robustness_points}")
        if self.corruptions is not None:
            from ..data.corruptions import check_corruption_names

            check_corruption_names(list(self.corruptions))
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        if self.n_boot < 100:
            raise ValueError(f"n_boot must be >= 100 for a percentile interval, got {self.n_boot}")

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics this configuration evaluates."""
        if self.robustness:
            names = self.corruptions if self.corruptions is not None else None
            if names is not None and "dropout_local" not in names:
                return tuple(m for m in METRICS if m != "dropout_local_error")
            return METRICS
        return tuple(m for m in METRICS if m not in ROBUSTNESS_METRICS)

    def evaluation_protocol(self) -> dict[str, Any]:
        """What the evaluation of a trained run depends on (a stored ``eval.json`` is reused only
        when this is unchanged)."""
        protocol: dict[str, Any] = {"fractions": list(self.fractions), "method": self.method,
                                    "robustness": self.robustness}
        if self.robustness:
            protocol.update(corruptions=list(self.corruptions) if self.corruptions else None,
                            severities=list(self.severities), points=self.robustness_points,
                            seed=self.corruption_seed)
        return protocol


def train_config(cfg: CompareConfig, variant: str, seed: int):
    """The :class:`TrainConfig` of one run."""
    from ..train.config import TrainConfig

    kw = {"progress": False, "accelerator": "cpu", **cfg.train, **VARIANTS[variant]}
    out = Path(cfg.out) / "runs" / variant / f"seed{seed}"
    return TrainConfig(epochs=cfg.epochs, seed=seed, out=str(out), **kw)


def eval_device(cfg: CompareConfig) -> str:
    """``cuda`` when the runs train on a GPU (``accelerator`` gpu/cuda/auto) and one is present."""
    import torch

    wants = str(cfg.train.get("accelerator", "cpu")) in ("gpu", "cuda", "auto")
    return "cuda" if wants and torch.cuda.is_available() else "cpu"


def corruption_scores(checkpoint: str, cfg: CompareConfig) -> dict[str, np.ndarray]:
    """Per-shape scores of one checkpoint on the corrupted test sets: the one call into
    :func:`reldrop3d.eval.robustness.evaluate_robustness`.

    Returns
    -------
    dict corruption -> bool array (S, M): correct per severity of ``cfg.severities`` and test
    shape (the clean test split rebuilt at ``cfg.robustness_points`` points).
    """
    from ..eval.robustness import evaluate_robustness

    report = evaluate_robustness(
        checkpoint, corruptions=list(cfg.corruptions) if cfg.corruptions else None,
        severities=cfg.severities, seed=cfg.corruption_seed, num_points=cfg.robustness_points,
        batch_size=max(cfg.eval_batch_size, 64), device=eval_device(cfg), cache_dir=cfg.cache_dir)
    return {c: np.asarray(report.model.scores[c]) > 0.5 for c in report.model.corruptions}


def trapezoid_weights(fractions) -> np.ndarray:
    """(F,) weights ``w`` with ``w @ y`` = the trapezoid area under ``y`` over ``fractions``."""
    x = np.asarray(fractions, dtype=float)
    w = np.zeros_like(x)
    if len(x) > 1:
        dx = np.diff(x) / 2
        w[:-1] += dx
        w[1:] += dx
    return w


def per_shape_values(per_shape: dict[str, Any], fractions, metric: str) -> np.ndarray:
    """The per-test-shape values (M,) whose mean is ``metric`` (for the mean class accuracy:
    whose class-balanced mean is): correctness, per-shape occlusion AUC or corruption error.

    ``per_shape`` is the ``per_shape`` entry of ``eval.json`` (see :func:`evaluate_run`).
    """
    if metric in ("accuracy", "mean_class_accuracy"):
        return decode_bits(per_shape["correct"]).astype(float)
    if metric.startswith("auc_"):
        rows = np.stack([decode_bits(r) for r in per_shape["occlusion"][metric[4:]]])
        return trapezoid_weights(fractions) @ rows.astype(float)
    corruption = per_shape["corruptions"]
    if metric == "mce":
        per = [1.0 - np.stack([decode_bits(r) for r in rows]).mean(0)
               for rows in corruption.values()]
        return np.mean(per, axis=0)
    if metric == "dropout_local_error":
        return 1.0 - np.stack([decode_bits(r) for r in corruption["dropout_local"]]).mean(0)
    raise KeyError(f"unknown metric {metric!r}; choose from {METRICS}")


def encode_bits(values) -> str:
    """A boolean array (M,) as a string of '0'/'1' (compact in JSON)."""
    return "".join("1" if v else "0" for v in np.asarray(values, dtype=bool).ravel())


def decode_bits(text: str) -> np.ndarray:
    """Inverse of :func:`encode_bits`: bool array (M,)."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def evaluate_run(checkpoint: str, cfg: CompareConfig, seed: int) -> dict[str, Any]:
    """Every metric of one trained model, with the per-shape results they come from.

    Returns
    -------
    dict with one float per metric of ``cfg.metrics``, ``curves`` (order -> accuracy per
    fraction), with robustness ``corruption_errors`` (corruption -> error per severity), and
    ``per_shape``: ``labels`` and ``predictions`` (lists over the test split), ``correct``,
    ``occlusion`` (order -> one '0'/'1' string per fraction) and ``corruptions`` (corruption ->
    one '0'/'1' string per severity) -- what the bootstrap over test shapes resamples.
    """
    from ..data import create_dataset
    from ..eval.classification import accuracy_scores, predict
    from ..eval.occlusion import OCCLUSION_ORDERS, occlusion_correct
    from ..models.checkpoint import load_model

    device = eval_device(cfg)
    model, meta = load_model(checkpoint)
    test = create_dataset(meta["dataset"], "test", **meta["data_kwargs"])
    pred, label = predict(model, test, cfg.eval_batch_size, device)
    scores = accuracy_scores(pred, label, test.num_classes)
    occluded = occlusion_correct(model, test, list(cfg.fractions), OCCLUSION_ORDERS, cfg.method,
                                 cfg.eval_batch_size, seed, device)
    per_shape: dict[str, Any] = {
        "labels": label.tolist(), "predictions": pred.tolist(), "correct": encode_bits(pred == label),
        "occlusion": {o: [encode_bits(row) for row in c.numpy()] for o, c in occluded.items()},
    }
    result: dict[str, Any] = {k: scores[k] for k in ("accuracy", "mean_class_accuracy")}
    result["curves"] = {o: c.double().mean(1).tolist() for o, c in occluded.items()}
    if cfg.robustness:
        corrupted = corruption_scores(checkpoint, cfg)
        per_shape["corruptions"] = {c: [encode_bits(r) for r in rows] for c, rows in corrupted.items()}
        result["corruption_errors"] = {c: (1.0 - rows.mean(1)).tolist() for c, rows in corrupted.items()}
    for m in cfg.metrics:
        if m not in result:
            result[m] = float(per_shape_values(per_shape, cfg.fractions, m).mean())
    result["per_shape"] = per_shape
    return result


def _settings(config: dict) -> dict:
    from ..train.config import LIFECYCLE_FIELDS

    return {k: v for k, v in config.items() if k not in LIFECYCLE_FIELDS}


def _continue_or_replace(tc, log):
    """``tc`` resuming the interrupted run of the same settings in its folder, or replacing a
    run of other settings there (the folder is this command's)."""
    import dataclasses

    from ..train.run_dir import run_files

    out = Path(tc.out)
    last, stored = out / "checkpoints" / "last.ckpt", out / "config.json"
    if last.is_file() and stored.is_file():
        try:
            same = _settings(json.loads(stored.read_text())) == tc.settings()
        except ValueError:
            same = False
        if same:
            log(f"[compare] resuming the interrupted run in {out} from {last}")
            return dataclasses.replace(tc, resume=str(last))
    if run_files(out):
        log(f"[compare] replacing the run of other settings in {out}")
        return dataclasses.replace(tc, overwrite=True)
    return tc


def _eval_path(cfg: CompareConfig, variant: str, seed: int) -> Path:
    return Path(cfg.out) / "runs" / variant / f"seed{seed}" / "eval.json"


def read_eval(path: Path) -> dict[str, Any] | None:
    """A run's ``eval.json`` as written by :func:`run_one` (a dict with a ``config`` and a
    ``result`` dict), or None when it is missing, unreadable or not of that form: such a run is
    evaluated (or trained) again, never trusted."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict) or \
            not isinstance(stored.get("result"), dict):
        return None
    return stored


def load_finished(cfg: CompareConfig, variant: str, seed: int) -> dict[str, Any] | None:
    """The stored result of a finished run with the same training configuration and evaluation
    protocol, else None."""
    stored = read_eval(_eval_path(cfg, variant, seed))
    if stored is not None and _settings(stored["config"]) == \
            train_config(cfg, variant, seed).settings() and \
            stored.get("protocol") == cfg.evaluation_protocol():
        return stored["result"]
    return None


def _dump_eval(payload: dict[str, Any]) -> str:
    """``eval.json`` text: indented, except the long per-shape results (on one line)."""
    parts = []
    for key, value in payload.items():
        if key == "result":
            inner = {k: v for k, v in value.items() if k != "per_shape"}
            text = json.dumps(inner, indent=2)[:-2]
            text += ',\n  "per_shape": ' + json.dumps(value.get("per_shape", {})) + "\n}"
        else:
            text = json.dumps(value, indent=2)
        parts.append(f"{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def run_one(cfg: CompareConfig, variant: str, seed: int, log=print) -> dict[str, Any]:
    """Train and evaluate one (variant, seed).

    A finished run (``eval.json`` with the same training configuration and evaluation protocol)
    is reused; a trained run whose evaluation settings changed is only re-evaluated; an
    interrupted run of the same settings is resumed, one of other settings replaced.
    """
    from ..train.run import train

    stored = load_finished(cfg, variant, seed)
    if stored is not None:
        log(f"[compare] {variant} seed {seed}: reusing {_eval_path(cfg, variant, seed)}")
        return stored
    tc = train_config(cfg, variant, seed)
    done = _eval_path(cfg, variant, seed)
    last = Path(tc.out) / "checkpoints" / "last.ckpt"
    previous = read_eval(done)  # None (missing or unreadable): trained again
    if previous is not None and _settings(previous["config"]) == tc.settings() and \
            last.is_file():
        log(f"[compare] {variant} seed {seed}: evaluation settings changed, re-evaluating {last}")
        checkpoint = str(last)
    else:
        tc = _continue_or_replace(tc, log)
        log(f"[compare] {variant} seed {seed}: training {tc.epochs} epochs -> {tc.out}")
        checkpoint = train(tc)["last_checkpoint"]
    result = evaluate_run(checkpoint, cfg, seed)
    payload = {"config": tc.settings(), "protocol": cfg.evaluation_protocol(),
               "checkpoint": checkpoint, "result": result}
    atomic_write_text(done, _dump_eval(payload))
    return result


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarize(results: dict[str, dict[int, dict]],
              metrics=None) -> dict[str, dict[str, tuple[float, float]]]:
    """variant -> metric -> (mean, std) over seeds (``metrics``: default those in the results)."""
    metrics = metrics or _metrics_in(results)
    return {
        v: {m: mean_std([r[m] for r in per_seed.values()]) for m in metrics}
        for v, per_seed in results.items()
    }


def _metrics_in(results: dict[str, dict[int, dict]]) -> tuple[str, ...]:
    first = next(iter(next(iter(results.values())).values()))
    return tuple(m for m in (*METRICS, *DERIVED_METRICS) if m in first)


def _robustness_result(run: dict[str, Any], label: str, severities):
    from ..eval.robustness import RobustnessResult

    rows = run["per_shape"]["corruptions"]
    scores = {c: np.stack([decode_bits(r) for r in per_severity]).astype(float)
              for c, per_severity in rows.items()}
    correct = decode_bits(run["per_shape"]["correct"]).astype(float)
    return RobustnessResult(label, "cls", correct, scores, tuple(severities))


def add_mce_vs_baseline(results: dict[str, dict[int, dict]],
                        cfg: CompareConfig) -> dict[str, dict[int, dict]]:
    """Add ``mce_vs_baseline`` to every run: ModelNet-C's mean corruption error
    ``mean_c [sum_s E(c, s) / sum_s E_baseline(c, s)]`` (:func:`reldrop3d.eval.robustness.mce`),
    the reference being the baseline trained with the same seed (so the baseline's own is 1; lower
    is better). Left out (results unchanged) when the baseline or the corruption results are
    missing for any run; NaN where the baseline made no error on a corruption.
    """
    from ..eval.robustness import mce

    base = results.get(cfg.baseline)
    runs = [(s, r) for per_seed in results.values() for s, r in per_seed.items()]
    if base is None or not runs or any(
            s not in base or "corruptions" not in r.get("per_shape", {}) for s, r in runs):
        return results
    for v, per_seed in results.items():
        for s, r in per_seed.items():
            r["mce_vs_baseline"] = mce(_robustness_result(r, v, cfg.severities),
                                       _robustness_result(base[s], cfg.baseline, cfg.severities))
    return results


@dataclass
class Difference:
    """``variant - baseline`` for one metric: the estimate, its interval and the verdict.

    ``method`` is "paired t over N seeds" or "paired bootstrap over M test shapes".
    """

    mean: float
    low: float
    high: float
    verdict: str
    method: str


#: ``Difference.method`` of a difference that every seed gave alike (judged by the sign test)
SAME_IN_EVERY_SEED = "exact sign test where every seed gave the same difference"


def differences(results: dict[str, dict[int, dict]], cfg: CompareConfig,
                metrics=None) -> dict[str, dict[str, Difference]]:
    """Every variant against ``cfg.baseline``, per metric.

    With two or more seeds: the per-seed differences (the same seed on both sides) and Student's
    t interval (:func:`.stats.paired_difference`). With one seed: a paired bootstrap over the test
    shapes (:func:`.stats.bootstrap_difference`, ``cfg.n_boot`` replicates, seeded), which needs
    the per-shape results of ``eval.json``. Empty when the baseline was not run.
    """
    metrics = metrics or _metrics_in(results)
    base = results.get(cfg.baseline)
    if base is None:
        return {}
    seeds = [s for s in base if all(s in per_seed for per_seed in results.values())]
    out: dict[str, dict[str, Difference]] = {}
    for v, per_seed in results.items():
        if v == cfg.baseline:
            continue
        out[v] = {}
        for m in metrics:
            if m in DERIVED_METRICS and len(seeds) < 2:  # a ratio of whole test sets
                mean = float(np.mean([per_seed[s][m] - base[s][m] for s in seeds]))
                out[v][m] = Difference(mean, math.nan, math.nan, "n/a (needs >= 2 seeds)",
                                       "no interval with one seed")
                continue
            if len(seeds) >= 2:
                a, b = [per_seed[s][m] for s in seeds], [base[s][m] for s in seeds]
                mean, low, high = paired_difference(a, b, cfg.confidence)
                method = f"paired t over {len(seeds)} seeds"
                d = np.subtract(a, b)
                if no_spread(d) and mean != 0:  # a zero-width t interval claims certainty
                    p = sign_test_p(d)
                    call = verdict(low, high, HIGHER_IS_BETTER[m])
                    out[v][m] = Difference(
                        mean, low, high, call if p < 1 - cfg.confidence else NO_DIFFERENCE,
                        f"{SAME_IN_EVERY_SEED} (the t interval has no width; {len(seeds)} "
                        f"seeds: p = {p:.2g})")
                    continue
            else:
                a, b = per_seed[seeds[0]]["per_shape"], base[seeds[0]]["per_shape"]
                groups = np.asarray(a["labels"]) if m == "mean_class_accuracy" else None
                va, vb = (per_shape_values(x, cfg.fractions, m) for x in (a, b))
                mean, low, high = bootstrap_difference(va, vb, groups, cfg.confidence, cfg.n_boot,
                                                       seed=seeds[0])
                method = f"paired bootstrap over {len(va)} test shapes"
            out[v][m] = Difference(mean, low, high, verdict(low, high, HIGHER_IS_BETTER[m]), method)
    return out


def _budget(cfg: CompareConfig) -> str:
    tc = train_config(cfg, cfg.variants[0], cfg.seeds[0])
    steps = f", at most {tc.max_steps_per_epoch} steps per epoch" if tc.max_steps_per_epoch else ""
    text = (f"Budget: {tc.model} on {tc.data}{' (' + tc.data_format + ')' if tc.data_format else ''}, "
            f"{tc.num_points} points{' + normals' if tc.use_normals else ''}, {tc.epochs} epochs, "
            f"batch {tc.batch_size}{steps}, lr {tc.lr:g}; RelDrop alpha {tc.alpha:g}, beta "
            f"{tc.beta:g}, fill {tc.fill}; occlusion fractions {', '.join(f'{f:g}' for f in cfg.fractions)}")
    if tc.data_kwargs:
        text += f"; data {tc.data_kwargs}"
    if cfg.robustness:
        names = ", ".join(cfg.corruptions) if cfg.corruptions else "all seven corruptions"
        text += (f"; robustness: {names}, severities {', '.join(map(str, cfg.severities))}, "
                 f"{cfg.robustness_points} points per clean cloud")
    return text + "."


def markdown_table(summary: dict[str, dict[str, tuple[float, float]]], seeds,
                   diffs: dict[str, dict[str, Difference]] | None = None,
                   baseline: str = BASELINE, confidence: float = 0.95) -> str:
    """The results as markdown: a table of mean +- std over ``seeds``, then (with ``diffs``) one
    line per variant and metric: the difference to ``baseline``, its interval and the verdict."""
    metrics = tuple(next(iter(summary.values())))
    head = ["variant", *[METRIC_NAMES[m] for m in metrics]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v, s in summary.items():
        cells = [f"{s[m][0]:.3f} ± {s[m][1]:.3f}" for m in metrics]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"mean ± sample std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}). OA = overall "
        "accuracy, mAcc = mean class accuracy; MoRF / LeRF / random-removal AUC = area under "
        "accuracy vs fraction of points removed, most-relevant-first / least-relevant-first / at "
        "random (trapezoid over the removal fractions; each model removes points by its own "
        "relevance; higher = more robust to losing those points).")
    if any(m in metrics for m in ROBUSTNESS_METRICS):
        lines[-1] += (" Corruption errors: error rate (1 - OA) on the ModelNet-C corruptions, "
                      "mean over the severities (and, for the mean corruption error, over the "
                      "corruptions): raw, not normalised by a reference model as ModelNet-C's mCE "
                      "is; lower = better.")
    if "mce_vs_baseline" in metrics:
        lines[-1] += (f" mCE (ref. baseline) = ModelNet-C's mean corruption error with the "
                      f"`{baseline}` run of the same seed as the reference model: mean over the "
                      "corruptions of sum_s E(c, s) / sum_s E_ref(c, s); 1 for the baseline "
                      "itself, lower = better.")
    if diffs:
        pct = f"{100 * confidence:g}%"
        lines += ["", f"Difference to `{baseline}` (variant − {baseline}), {pct} interval:", "",
                  f"| variant | metric | difference | {pct} interval | verdict |",
                  "|---|---|---|---|---|"]
        methods = set()
        for v, per_metric in diffs.items():
            for m, d in per_metric.items():
                methods.add(d.method)
                interval = "n/a" if math.isnan(d.low) else f"[{d.low:+.3f}, {d.high:+.3f}]"
                if d.method.startswith(SAME_IN_EVERY_SEED):
                    interval += " (same in every seed)"
                lines.append(f"| {v} | {METRIC_NAMES[m]} | {d.mean:+.3f} | {interval} | "
                             f"{d.verdict} |")
        lines += ["", f"Interval: {'; '.join(sorted(methods))}. \"better\" / \"worse\": the "
                  f"whole {pct} interval lies on that side of 0 (for the errors lower is better); "
                  "otherwise \"no detectable difference\" (which is not evidence of equality: "
                  "few seeds give wide intervals)."]
    elif diffs is not None:
        lines += ["", f"No differences: the baseline `{baseline}` was not among the variants run."]
    return "\n".join(lines) + "\n"


def corruption_table(results: dict[str, dict[int, dict]], severities) -> str:
    """Markdown: the error of every variant on each ModelNet-C corruption (mean over
    ``severities``), mean ± sample std over the seeds; empty when no run has corruption results.

    Says which corruptions move a mean corruption error, which one number hides."""
    runs = [r for per_seed in results.values() for r in per_seed.values()]
    if not runs or any("corruption_errors" not in r for r in runs):
        return ""
    names = list(runs[0]["corruption_errors"])
    lines = ["| variant | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for v, per_seed in results.items():
        cells = []
        for c in names:
            mean, std = mean_std([np.mean(r["corruption_errors"][c]) for r in per_seed.values()])
            cells.append(f"{mean:.3f} ± {std:.3f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    sev = ", ".join(map(str, severities))
    return ("Error per corruption (1 - OA, mean over severities " + sev + "), mean ± sample std "
            "over the seeds; lower = better:\n\n" + "\n".join(lines) + "\n")


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def write_outputs(cfg: CompareConfig, results: dict[str, dict[int, dict]]) -> str:
    """Write results.csv, differences.csv, curves.csv, results.md and the plots; return the
    markdown of results.md (without its title)."""
    out = Path(cfg.out)
    if cfg.robustness:
        add_mce_vs_baseline(results, cfg)
    metrics = _metrics_in(results)
    rows = [["variant", "seed", *metrics]]
    curve_rows = [["variant", "seed", "order", *[f"{f:g}" for f in cfg.fractions]]]
    for v, per_seed in results.items():
        for s, r in per_seed.items():
            rows.append([v, s, *[f"{r[m]:.6f}" for m in metrics]])
            for order, accs in r["curves"].items():
                curve_rows.append([v, s, order, *[f"{a:.6f}" for a in accs]])
    diffs = differences(results, cfg, metrics)
    diff_rows = [["variant", "metric", "difference", "low", "high", "verdict", "method"]]
    for v, per_metric in diffs.items():
        for m, d in per_metric.items():
            diff_rows.append([v, m, f"{d.mean:.6f}", f"{d.low:.6f}", f"{d.high:.6f}", d.verdict,
                              d.method])
    atomic_write_text(out / "results.csv", _csv(rows))
    atomic_write_text(out / "differences.csv", _csv(diff_rows))
    atomic_write_text(out / "curves.csv", _csv(curve_rows))
    per_corruption = corruption_table(results, cfg.severities)
    if per_corruption:
        corruption_rows = [["variant", "seed", "corruption",
                            *[f"severity {v}" for v in cfg.severities]]]
        for v, per_seed in results.items():
            for s, r in per_seed.items():
                for c, errors in r["corruption_errors"].items():
                    corruption_rows.append([v, s, c, *[f"{e:.6f}" for e in errors]])
        atomic_write_text(out / "corruptions.csv", _csv(corruption_rows))
    table = markdown_table(summarize(results, metrics), cfg.seeds, diffs, cfg.baseline,
                           cfg.confidence) + "\n"
    if per_corruption:
        table += per_corruption + "\n"
    table += _budget(cfg) + "\n"
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
    metrics = _metrics_in(results)
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=120)
    width = 0.8 / max(len(summary), 1)
    pos = np.arange(len(metrics))
    for i, (v, s) in enumerate(summary.items()):
        ax.bar(pos + i * width, [s[m][0] for m in metrics], width,
               yerr=[s[m][1] for m in metrics], capsize=2, label=v)
    ax.set_xticks(pos + width * (len(summary) - 1) / 2,
                  [textwrap.fill(METRIC_NAMES[m], 16) for m in metrics], fontsize=7)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "metrics.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


# -- running the grid ----------------------------------------------------------------------------
def _run_in_process(cfg: CompareConfig, variant: str, seed: int, threads: int):
    """One run in a worker process of :func:`run_compare` (torch limited to ``threads``)."""
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    result = run_one(cfg, variant, seed, log=lambda *_: None)
    return result, time.perf_counter() - t0


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """One line per finished run with an estimate of the time left.

    The estimate: mean wall time of the runs trained so far (reused runs cost nothing) times the
    runs left, divided by the runs trained at the same time (``jobs``).
    """

    def __init__(self, total: int, jobs: int, log=print):
        self.total, self.jobs, self.log = total, jobs, log
        self.done, self.times = 0, []

    def finished(self, variant: str, seed: int, result: dict, seconds: float | None) -> str:
        self.done += 1
        if seconds is not None:
            self.times.append(seconds)
        left = self.total - self.done
        took = "reused" if seconds is None else f"{seconds:.0f} s"
        if left == 0:
            tail = "done"
        elif self.times:
            tail = f"about {_duration(np.mean(self.times) * left / self.jobs)} left"
        else:
            tail = f"{left} to go"
        line = (f"[{self.done}/{self.total}] {variant} seed {seed}: acc {result['accuracy']:.3f}, "
                f"{took}; {tail}")
        self.log(line)
        return line


def run_compare(cfg: CompareConfig, log=print) -> tuple[dict[str, dict[int, dict]], str]:
    """Run every (variant, seed), write the outputs; returns (results, markdown table).

    Finished runs are reused. With ``cfg.jobs > 1`` the remaining runs are trained in that many
    worker processes (``spawn``; torch threads per process ``max(1, cores // jobs)``); every run
    is seeded on its own, so the results do not depend on ``jobs``.
    """
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    grid = [(v, s) for v in cfg.variants for s in cfg.seeds]
    done: dict[tuple[str, int], dict] = {}
    progress = Progress(len(grid), cfg.jobs, log)
    pending = []
    for v, s in grid:
        stored = load_finished(cfg, v, s)
        if stored is None:
            pending.append((v, s))
        else:
            done[v, s] = stored
            progress.finished(v, s, stored, None)
    if cfg.jobs == 1 or len(pending) <= 1:
        for v, s in pending:
            t0 = time.perf_counter()
            done[v, s] = run_one(cfg, v, s, log)
            progress.finished(v, s, done[v, s], time.perf_counter() - t0)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        threads = max(1, available_cores() // cfg.jobs)
        workers = min(cfg.jobs, len(pending))
        log(f"[compare] {len(pending)} runs in {workers} processes, {threads} torch thread(s) each")
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_in_process, cfg, v, s, threads): (v, s) for v, s in pending}
            for future in as_completed(futures):
                v, s = futures[future]
                result, seconds = future.result()
                done[v, s] = result
                progress.finished(v, s, result, seconds)
    results = {v: {s: done[v, s] for s in cfg.seeds} for v in cfg.variants}
    return results, write_outputs(cfg, results)
