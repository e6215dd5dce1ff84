"""Robustness of any checkpoint to the ModelNet-C corruptions (:mod:`reldrop3d.data.corruptions`).

Protocol (``docs/robustness.md``): the clean test split of the data set the checkpoint was trained
on is rebuilt at 1,024 points per cloud (ModelNet-C takes the first 1,024 of the 2,048 points of
``modelnet40_ply_hdf5_2048``; our loaders keep the checkpoint's sampling, which for the ``h5``
format is also the first 1,024), and each of the seven corruptions is applied at its five
severities, deterministically from ``seed``. Corrupted clouds keep the size the corruption gives
them (dropout: fewer points, add: more), as in ModelNet-C. The corrupted sets are cached
(:func:`corrupted_arrays`), so a second checkpoint is scored on the identical clouds.

Metrics, with ``E(c, s)`` the error of corruption ``c`` at severity ``s``: ``1 - OA`` for a
classifier, ``1 - instance mIoU`` for a part segmenter (points added by a corruption carry the
ignore label -1 and count neither as prediction nor as ground truth), and ``E_clean`` the error on
the clean set. ModelNet-C's definitions (Ren et al. 2022, Sec. 4; ``eval_corrupt_wrapper`` in
``modelnetc_utils/eval.py`` of jiawei-ren/ModelNet-C), with a reference model ``ref``:

* ``CE(c) = sum_s E(c, s) / sum_s E_ref(c, s)``, ``mCE = mean_c CE(c)``;
* ``RCE(c) = sum_s (E(c, s) - E_clean) / sum_s (E_ref(c, s) - E_ref,clean)``,
  relative mCE ``= mean_c RCE(c)``.

ModelNet-C's reference is DGCNN trained on ModelNet40; here it is any checkpoint of the same task
and data set (``reference=``). Without a reference only the raw errors are reported, and the
reports say so. A ratio whose denominator is 0 (the reference makes no error on ``c``, or ``c``
does not hurt it) is NaN and printed as ``n/a``; the means then are NaN too (no corruption is
silently left out).

Python entry points: :func:`evaluate_robustness` (checkpoint files, what ``reldrop3d
robustness`` runs) and :func:`corruption_errors` (a model in memory; a plain dict, for
experiment drivers such as ``compare``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Sequence
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
    DROPOUT_LOCAL_POINTS,
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
TASKS = ("cls", "partseg")
METRICS = {"cls": "error rate (1 - OA)", "partseg": "1 - instance mIoU"}


class RobustnessError(ValueError):
    """Impossible settings of a robustness evaluation (the message names the flag or file)."""


# -- the clean set -------------------------------------------------------------------------------


@dataclass
class CleanSet:
    """The clean test arrays a robustness evaluation corrupts.

    Attributes
    ----------
    points : Tensor (M, N, 3) float32
    normals : Tensor (M, N, 3) float32 or None
    labels : LongTensor (M,)
        Class (for part segmentation: category) per shape.
    parts : LongTensor (M, N) or None
        Part label per point (part segmentation).
    part_table : BoolTensor (classes, parts) or None
        Which parts belong to which category (:func:`reldrop3d.train.metrics.part_table`).
    name : str
        What the set is (data set and split), for reports.
    fingerprint : str
        SHA-1 of ``name`` and of the arrays; keys the cached corrupted sets.
    """

    points: torch.Tensor
    normals: torch.Tensor | None
    labels: torch.Tensor
    parts: torch.Tensor | None = None
    part_table: torch.Tensor | None = None
    name: str = "arrays"
    fingerprint: str = ""

    def __post_init__(self):
        p = self.points
        if not isinstance(p, torch.Tensor) or p.dim() != 3 or p.shape[-1] != 3 or p.shape[0] < 1:
            shape = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
            raise DataError(f"{self.name}: expected clean points (M >= 1, N, 3), got {shape}")
        if not torch.isfinite(p).all():
            raise DataError(f"{self.name}: the clean points contain NaN or infinite coordinates")
        m, n = p.shape[:2]
        if tuple(self.labels.shape) != (m,):
            raise DataError(f"{self.name}: labels {tuple(self.labels.shape)} do not match {m} clouds")
        for what, t in (("normals", self.normals), ("parts", self.parts)):
            if t is not None and tuple(t.shape[:2]) != (m, n):
                raise DataError(f"{self.name}: {what} {tuple(t.shape)} do not match points {(m, n)}")
        if not self.fingerprint:
            h = hashlib.sha1(f"{self.name}|{tuple(p.shape)}".encode())
            for t in (p, self.normals, self.labels, self.parts):
                h.update(b"|" if t is None else t.contiguous().numpy().tobytes())
            self.fingerprint = h.hexdigest()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_points(self) -> int:
        return int(self.points.shape[1])

    def head(self, n: int) -> CleanSet:
        """The first ``n`` shapes (a new fingerprint: their corrupted clouds are drawn anew)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise RobustnessError(f"num_shapes must be an integer >= 1, got {n!r}")
        cut = slice(0, n)

        def pick(t):
            return None if t is None else t[cut].contiguous()

        return CleanSet(pick(self.points), pick(self.normals), self.labels[cut].contiguous(),
                        pick(self.parts), self.part_table, f"{self.name}[:{n}]")


def clean_test_set(meta: dict, split: str = "test", num_points: int = REFERENCE_POINTS,
                   data_root: str | None = None) -> CleanSet:
    """Rebuild split ``split`` of the checkpoint's data set at ``num_points`` points per cloud.

    Parameters
    ----------
    meta : dict
        Checkpoint metadata (``dataset``, ``data_kwargs``, ``task``, ``classes``).
    split : str
    num_points : int
    data_root : str, optional
        Overrides the data folder stored in the checkpoint.

    Returns
    -------
    CleanSet

    Raises
    ------
    DataError
        The data set has no such split, it cannot be read, it is empty, or its classes are not
        the checkpoint's; the message names the data set, the split and the folder.
    """
    from ..train.metrics import part_table

    name = meta["dataset"]
    kwargs = dict(meta.get("data_kwargs") or {})
    if data_root:
        kwargs["root"] = data_root
    kwargs["num_points"] = int(num_points)
    where = kwargs.get("root") or f"the default folder of {name}"
    try:
        ds = create_dataset(name, split, **kwargs)
    except (DataError, FileNotFoundError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"robustness needs the {split!r} split of {name!r} ({where}), which cannot "
                        f"be loaded: {err}") from None
    if len(ds) == 0:
        raise DataError(f"the {split!r} split of {name!r} ({where}) is empty")
    if list(ds.classes) != list(meta["classes"]):
        raise DataError(f"the {split!r} split of {name!r} ({where}) has {len(ds.classes)} classes, "
                        f"the checkpoint was trained on {len(meta['classes'])} others")
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    task = meta.get("task", "cls")
    if task == "partseg" and "parts" not in batch:
        raise DataError(f"{name!r} ({where}) has no part labels; a part segmenter cannot be scored")
    table = (part_table(ds.num_classes, ds.num_parts, ds.parts_of_class)
             if task == "partseg" else None)
    args = ",".join(f"{k}={kwargs[k]}" for k in sorted(kwargs))
    return CleanSet(
        points=batch["points"].float().contiguous(),
        normals=batch["normals"].float().contiguous() if "normals" in batch else None,
        labels=batch["label"].long(),
        parts=batch["parts"].long() if task == "partseg" else None,
        part_table=table,
        name=f"{name}({args}) {split}",
    )


# -- the corrupted sets (cached) -----------------------------------------------------------------


def corruption_fingerprint(clean: CleanSet, name: str, severity: int, seed: int) -> str:
    """What a corrupted set depends on: the clean set, the corruption, its published parameter at
    ``severity``, the seed and :data:`~reldrop3d.data.corruptions.CORRUPTION_VERSION`."""
    fn = get_corruption(name)
    value = fn.values[severity - 1]
    return (f"{clean.fingerprint}|{name}|s{severity}|{fn.parameter}={value!r}|seed{seed}|"
            f"n{clean.num_points}|v{CORRUPTION_VERSION}")


def corruption_cache_path(clean: CleanSet, name: str, severity: int, seed: int,
                          cache_dir: str | Path | None = None) -> Path:
    """``<cache>/corruptions/<clean fingerprint>/<name>-s<severity>-seed<seed>-<hash>.npz``."""
    base = Path(cache_dir) if cache_dir is not None else default_cache_root()
    tag = hashlib.sha1(corruption_fingerprint(clean, name, severity, seed).encode()).hexdigest()
    return base / "corruptions" / clean.fingerprint[:16] / f"{name}-s{severity}-seed{seed}-{tag[:12]}.npz"


def corrupted_arrays(clean: CleanSet, name: str, severity: int, seed: int = 0,
                     cache_dir: str | Path | None = None,
                     use_cache: bool = True) -> dict[str, np.ndarray]:
    """The corrupted set (``name``, ``severity``) of ``clean``, read from the cache or generated.

    The cache file (:func:`corruption_cache_path`) is written atomically and stores
    :func:`corruption_fingerprint`; a file whose fingerprint does not match, or that is
    unreadable, is regenerated (:func:`reldrop3d.data.cache.load_or_build`).

    Returns
    -------
    dict with ``points`` (M, N', 3) float32, ``source`` (M, N') int64 (the clean point each
    corrupted point came from, -1 for an added point) and, when the clean set has normals,
    ``normals`` (M, N', 3) float32.
    """
    fingerprint = corruption_fingerprint(clean, name, severity, seed)
    path = corruption_cache_path(clean, name, severity, seed, cache_dir) if use_cache else None

    def build() -> dict[str, np.ndarray]:
        out = corrupt(name, clean.points, severity, corruption_generator(seed, name, severity),
                      clean.normals)
        arrays = {"points": out.points.numpy().astype(np.float32),
                  "source": out.source.numpy().astype(np.int64)}
        if out.normals is not None:
            arrays["normals"] = out.normals.numpy().astype(np.float32)
        return arrays

    return load_or_build(path, fingerprint, build)


# -- scoring -------------------------------------------------------------------------------------


@torch.inference_mode()
def per_shape_scores(model: nn.Module, task: str, points: torch.Tensor, normals: torch.Tensor | None,
                     labels: torch.Tensor, parts: torch.Tensor | None = None,
                     table: torch.Tensor | None = None, batch_size: int = 64,
                     device: str | torch.device = "cpu") -> torch.Tensor:
    """Per-shape score of ``model`` on one (corrupted) set, in batches, in eval mode.

    Parameters
    ----------
    model : nn.Module
        ``model(x)`` -> logits (B, classes) for ``cls``; ``model(x, category)`` -> logits
        (B, N, parts) for ``partseg``; ``x`` is (B, N, 3), or (B, N, 6) with normals.
    task : {"cls", "partseg"}
    points : Tensor (M, N, 3)
    normals : Tensor (M, N, 3) or None
        Concatenated to the points when given (models trained with normals).
    labels : LongTensor (M,)
    parts : LongTensor (M, N), for ``partseg`` (``-1`` = ignored point)
    table : BoolTensor (classes, parts), for ``partseg``

    Returns
    -------
    Tensor (M,) float64: 1.0 / 0.0 for a right / wrong classification, or the shape's mIoU.
    """
    from ..train.metrics import shape_ious

    was_training = model.training
    model.eval().to(device)
    out = []
    try:
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
    finally:
        model.train(was_training)
    return torch.cat(out)


def _as_result(r) -> RobustnessResult:
    return RobustnessResult.from_dict(r) if isinstance(r, dict) else r


@dataclass
class RobustnessResult:
    """Scores of one model on a clean set and its corrupted copies.

    Attributes
    ----------
    checkpoint : str
        What was scored (a path or a label).
    task : {"cls", "partseg"}
    clean : ndarray (M,)
        Per-shape score on the clean set: 1/0 right/wrong, or the shape's mIoU.
    scores : dict of str to ndarray (S, M)
        Per corruption: per severity (in ``severities`` order), per shape.
    severities : tuple of int
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
        """``E_clean``."""
        return float(1 - np.mean(self.clean))

    def errors(self, name: str) -> list[float]:
        """``E(c, s)`` for every severity of corruption ``name``."""
        return [float(1 - np.mean(row)) for row in self.scores[name]]

    def error(self, name: str) -> float:
        """``E(c)``: the mean of :meth:`errors` over the severities."""
        return float(np.mean(self.errors(name)))

    def mean_error(self) -> float:
        """Mean of ``E(c)`` over the corruptions (unnormalised; ``1 - mOA`` of ModelNet-C)."""
        return float(np.mean([self.error(c) for c in self.corruptions]))

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): ``checkpoint``, ``task``, ``metric``, ``severities``,
        ``clean_error``, ``errors`` {c: [E(c, s) per severity]}, ``corruption_errors`` {c: E(c)},
        ``mean_error``, and the per-shape scores ``clean_scores`` [M] and ``scores``
        {c: [[per shape] per severity]} (for bootstrap intervals)."""
        return {
            "checkpoint": self.checkpoint, "task": self.task, "metric": METRICS[self.task],
            "severities": list(self.severities), "clean_error": self.clean_error,
            "errors": {c: self.errors(c) for c in self.corruptions},
            "corruption_errors": {c: self.error(c) for c in self.corruptions},
            "mean_error": self.mean_error(),
            "clean_scores": np.asarray(self.clean, dtype=float).tolist(),
            "scores": {c: np.asarray(v, dtype=float).tolist() for c, v in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RobustnessResult:
        """Inverse of :meth:`as_dict` (needs the per-shape scores)."""
        return cls(d["checkpoint"], d["task"], np.asarray(d["clean_scores"], dtype=float),
                   {c: np.asarray(v, dtype=float) for c, v in d["scores"].items()},
                   tuple(d["severities"]))


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _check_pair(result: RobustnessResult, reference: RobustnessResult, name: str) -> None:
    if name not in reference.scores:
        raise RobustnessError(f"the reference was not scored on corruption {name!r}")
    if tuple(reference.severities) != tuple(result.severities):
        raise RobustnessError(f"severities differ: {list(result.severities)} vs the reference's "
                              f"{list(reference.severities)}")


def ce(result, reference, name: str) -> float:
    """Corruption error ``CE(c) = sum_s E(c, s) / sum_s E_ref(c, s)``.

    ``result`` and ``reference`` are :class:`RobustnessResult` or their :meth:`~RobustnessResult.as_dict`.
    NaN when the reference makes no error on ``name``.
    """
    result, reference = _as_result(result), _as_result(reference)
    _check_pair(result, reference, name)
    return _ratio(sum(result.errors(name)), sum(reference.errors(name)))


def rce(result, reference, name: str) -> float:
    """Relative corruption error
    ``RCE(c) = sum_s (E(c, s) - E_clean) / sum_s (E_ref(c, s) - E_ref,clean)``.

    NaN when the corruption does not raise the reference's error above its clean error.
    """
    result, reference = _as_result(result), _as_result(reference)
    _check_pair(result, reference, name)
    num = sum(e - result.clean_error for e in result.errors(name))
    den = sum(e - reference.clean_error for e in reference.errors(name))
    return _ratio(num, den)


def mce(result, reference) -> float:
    """Mean corruption error: the mean over ``result``'s corruptions of :func:`ce` (NaN if any is)."""
    result = _as_result(result)
    return float(np.mean([ce(result, reference, c) for c in result.corruptions]))


def relative_mce(result, reference) -> float:
    """Relative mean corruption error: the mean of :func:`rce` (NaN if any is)."""
    result = _as_result(result)
    return float(np.mean([rce(result, reference, c) for c in result.corruptions]))


@dataclass
class RobustnessReport:
    """The evaluation of one checkpoint (and optionally a reference) on one clean set.

    ``timing``: wall seconds ``load_clean_s``, ``generate_s`` (generating or reading the
    corrupted sets), ``inference_s``, the same as process CPU seconds (all threads)
    ``*_cpu_s``; ``generated`` / ``cached``: how many corrupted sets were generated / read from
    the cache.
    """

    model: RobustnessResult
    reference: RobustnessResult | None
    dataset: str
    num_shapes: int
    num_points: int
    seed: int
    metric: str
    timing: dict[str, float] = field(default_factory=dict)


def _check_settings(names, severities, seed, num_points, batch_size) -> tuple[list[str], tuple]:
    names = check_corruption_names(list_corruptions() if names is None else names)
    severities = tuple(severities)
    bad = [s for s in severities if isinstance(s, bool) or s not in SEVERITIES]
    if bad or not severities or len(set(severities)) != len(severities):
        raise RobustnessError(f"severities must be distinct values of {list(SEVERITIES)}, got "
                              f"{list(severities)}")
    for what, v, lo in (("seed", seed, 0), ("num_points", num_points, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise RobustnessError(f"{what} must be an integer >= {lo}, got {v!r}")
    if "dropout_local" in names:
        need = DROPOUT_LOCAL_POINTS[max(severities) - 1]
        if num_points <= need:
            raise RobustnessError(
                f"dropout_local at severity {max(severities)} removes {need} points, more than "
                f"the {num_points} points per cloud (num_points / --num-points); ModelNet-C uses "
                f"{REFERENCE_POINTS}")
    return names, severities


def _check_labels(task: str, names: Sequence[str], what: str) -> None:
    if task not in TASKS:
        raise RobustnessError(f"{what}: unknown task {task!r}; robustness scores {', '.join(TASKS)}")
    if task == "partseg":
        cls_only = [n for n in names if not get_corruption(n).supports_labels]
        if cls_only:
            raise RobustnessError(
                f"{what} is a part segmenter; corruption(s) {', '.join(cls_only)} cannot carry "
                "per-point labels (classification only): leave them out with --corruptions")


def score_corruptions(models: dict[str, nn.Module], task: str, clean: CleanSet, corruptions=None,
                      severities=SEVERITIES, seed: int = 0, batch_size: int = 64,
                      device: str | torch.device = "cpu", cache_dir: str | Path | None = None,
                      use_cache: bool = True, progress: bool = False,
                      timing: dict | None = None) -> dict[str, RobustnessResult]:
    """Score several models of one task on ``clean`` and its corrupted copies (each corrupted set
    is generated or read once for all models).

    Parameters
    ----------
    models : dict of str to nn.Module
        Label (becomes :attr:`RobustnessResult.checkpoint`) -> model.
    task : {"cls", "partseg"}
    clean : CleanSet
    corruptions : list of str, optional
        Default: all seven.
    severities : sequence of int in 1..5
    seed : int
        Seed of the corrupted sets.
    batch_size : int
    device : str or torch.device
    cache_dir : path, optional
        Base folder of the cache (default :func:`reldrop3d.data.cache.default_cache_root`).
    use_cache : bool
        False: generate in memory only.
    progress : bool
        A progress bar (tqdm, stderr), one step per set.
    timing : dict, optional
        Gets ``generate_s``, ``inference_s``, ``generated``, ``cached`` added.

    Returns
    -------
    dict of str to RobustnessResult, keyed like ``models``
    """
    names, severities = _check_settings(corruptions, severities, seed, clean.num_points, batch_size)
    _check_labels(task, names, "the model")
    if task == "partseg" and (clean.parts is None or clean.part_table is None):
        raise RobustnessError(f"{clean.name}: part segmentation needs part labels and a part table")
    timing = {} if timing is None else timing
    for k in ("generate_s", "inference_s", "generate_cpu_s", "inference_cpu_s"):
        timing.setdefault(k, 0.0)
    for k in ("generated", "cached"):
        timing.setdefault(k, 0)

    def score(m, pts, nrm, parts):
        t, c = time.perf_counter(), time.process_time()
        s = per_shape_scores(m, task, pts, nrm, clean.labels, parts, clean.part_table,
                             batch_size, device)
        timing["inference_s"] += time.perf_counter() - t
        timing["inference_cpu_s"] += time.process_time() - c
        return s.numpy()

    bar = _progress(1 + len(names) * len(severities), progress)
    bar.set_postfix_str(CLEAN)
    clean_scores = {k: score(m, clean.points, clean.normals, clean.parts) for k, m in models.items()}
    bar.update(1)
    scores = {k: {n: [] for n in names} for k in models}
    for name in names:
        for sev in severities:
            bar.set_postfix_str(f"{name} s{sev}")
            t, c = time.perf_counter(), time.process_time()
            path = corruption_cache_path(clean, name, sev, seed, cache_dir) if use_cache else None
            hit = path is not None and path.exists()
            arrays = corrupted_arrays(clean, name, sev, seed, cache_dir, use_cache)
            timing["generate_s"] += time.perf_counter() - t
            timing["generate_cpu_s"] += time.process_time() - c
            timing["cached" if hit else "generated"] += 1
            pts = torch.from_numpy(arrays["points"])
            nrm = torch.from_numpy(arrays["normals"]) if "normals" in arrays else None
            parts = (follow(clean.parts, torch.from_numpy(arrays["source"]), IGNORE_LABEL)
                     if task == "partseg" else None)
            for k, m in models.items():
                scores[k][name].append(score(m, pts, nrm, parts))
            bar.update(1)
    bar.close()
    return {k: RobustnessResult(k, task, clean_scores[k],
                                {n: np.stack(v) for n, v in scores[k].items()}, severities)
            for k in models}


def corruption_errors(model: nn.Module, meta: dict, corruptions=None, severities=SEVERITIES,
                      seed: int = 0, num_points: int = REFERENCE_POINTS, split: str = "test",
                      data_root: str | None = None, clean: CleanSet | None = None,
                      num_shapes: int | None = None, batch_size: int = 64,
                      device: str | torch.device = "cpu", cache_dir: str | Path | None = None,
                      use_cache: bool = True, progress: bool = False,
                      label: str = "model") -> dict[str, Any]:
    """Errors of one model in memory under the ModelNet-C corruptions, as a plain dict.

    The stable entry point for experiment drivers (e.g. ``compare``): for two models of the same
    data set and ``seed``, the corrupted clouds are identical (cached), so their dicts can be
    compared with :func:`ce`, :func:`mce`, :func:`relative_mce` (which accept these dicts).

    Parameters
    ----------
    model : nn.Module
    meta : dict
        Checkpoint metadata (:func:`reldrop3d.models.checkpoint.load_model`): ``task``, and, when
        ``clean`` is not given, ``dataset``, ``data_kwargs``, ``classes``.
    corruptions : list of str, optional
        Default: all seven (:func:`reldrop3d.data.corruptions.list_corruptions`).
    severities : sequence of int in 1..5
    seed : int
        Seed of the corrupted sets.
    num_points, split, data_root :
        How the clean set is rebuilt (:func:`clean_test_set`); ignored when ``clean`` is given.
    clean : CleanSet, optional
        A clean set built once and shared over calls (saves rebuilding it).
    num_shapes : int, optional
        Only the first ``num_shapes`` shapes.
    batch_size, device, cache_dir, use_cache, progress :
        See :func:`score_corruptions`.
    label : str
        Stored as ``checkpoint`` in the result.

    Returns
    -------
    dict
        :meth:`RobustnessResult.as_dict`: ``clean_error``, ``errors`` {corruption: [E(c, s) per
        severity]}, ``corruption_errors`` {corruption: E(c)}, ``mean_error``, ``severities``,
        ``task``, ``metric``, the per-shape ``clean_scores`` / ``scores``, plus ``num_shapes``,
        ``num_points``, ``seed`` and ``timing``.
    """
    task = meta.get("task", "cls")
    names, severities = _check_settings(corruptions, severities, seed,
                                        clean.num_points if clean is not None else num_points,
                                        batch_size)
    _check_labels(task, names, "the model")
    if clean is None:
        clean = clean_test_set(meta, split, num_points, data_root)
    if num_shapes is not None:
        clean = clean.head(num_shapes)
    timing: dict[str, float] = {}
    result = score_corruptions({label: model}, task, clean, names, severities, seed, batch_size,
                               device, cache_dir, use_cache, progress, timing)[label]
    out = result.as_dict()
    out.update(num_shapes=len(clean), num_points=clean.num_points, seed=int(seed), timing=timing)
    return out


def _load_checkpoint(path, what: str, task: str | None = None):
    from ..models.checkpoint import CheckpointError, load_model

    if path is None or not Path(path).is_file():
        state = "is a folder" if path is not None and Path(path).is_dir() else "not found"
        raise CheckpointError(f"{what} {path}: {state} (a .ckpt written by reldrop3d train)")
    return load_model(path, task=task, modality="points")


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
    """Evaluate a checkpoint (and ``reference``) on the corrupted copies of its test split.

    Parameters
    ----------
    checkpoint, reference : path
        Checkpoints written by ``reldrop3d train`` (point clouds; classification or part
        segmentation); the reference of the same task, data set and input channels.
    corruptions : list of str, optional
        Default: all seven (:func:`reldrop3d.data.corruptions.list_corruptions`).
    severities : sequence of int in 1..5
    seed : int
        Seed of the corrupted sets.
    num_points : int
        Points per clean test cloud (ModelNet-C: 1,024).
    split : str
        The split corrupted (default ``test``).
    data_root : str, optional
        Overrides the data folder stored in the checkpoint.
    num_shapes : int, optional
        Evaluate only the first ``num_shapes`` test shapes.
    batch_size, device, cache_dir, use_cache, progress :
        See :func:`score_corruptions`.

    Returns
    -------
    RobustnessReport

    Raises
    ------
    ValueError subclasses (one line each, naming the flag or file)
        :class:`~reldrop3d.models.checkpoint.CheckpointError` for a missing, unreadable or
        mismatched checkpoint or reference; :class:`~reldrop3d.data.DataError` for a data set
        without the split; :class:`RobustnessError` for impossible settings (unknown
        corruption, severity, a part segmenter with a classification-only corruption).
    """
    from ..models.checkpoint import CheckpointError

    names, severities = _check_settings(corruptions, severities, seed, num_points, batch_size)
    model, meta = _load_checkpoint(checkpoint, "checkpoint")
    task = meta.get("task", "cls")
    _check_labels(task, names, f"checkpoint {checkpoint}")
    models = {str(checkpoint): model}
    if reference is not None:
        try:
            ref_model, ref_meta = _load_checkpoint(reference, "reference checkpoint (--reference)")
        except CheckpointError as err:
            msg = str(err)
            if "--reference" not in msg:
                msg = f"--reference: {msg}"
            raise CheckpointError(msg) from None
        if ref_meta.get("task", "cls") != task:
            raise CheckpointError(f"reference {reference} holds a {ref_meta.get('task', 'cls')} "
                                  f"model, the checkpoint a {task} model; both must share the task")
        if ref_meta["dataset"] != meta["dataset"] or list(ref_meta["classes"]) != list(meta["classes"]):
            raise CheckpointError(
                f"reference {reference} was trained on {ref_meta['dataset']} "
                f"({len(ref_meta['classes'])} classes), the checkpoint on {meta['dataset']} "
                f"({len(meta['classes'])} classes); both must share the data set")
        if bool(ref_meta.get("use_normals")) != bool(meta.get("use_normals")):
            raise CheckpointError(
                f"reference {reference} and checkpoint {checkpoint} differ in their input: one "
                "takes normals, the other does not")
        if str(reference) in models:
            raise RobustnessError(f"--reference {reference} is the checkpoint itself")
        models[str(reference)] = ref_model
    t0, c0 = time.perf_counter(), time.process_time()
    clean = clean_test_set(meta, split, num_points, data_root)
    if num_shapes is not None:
        clean = clean.head(num_shapes)
    timing: dict[str, float] = {"load_clean_s": time.perf_counter() - t0,
                                "load_clean_cpu_s": time.process_time() - c0}
    results = score_corruptions(models, task, clean, names, severities, seed, batch_size, device,
                                cache_dir, use_cache, progress, timing)
    return RobustnessReport(
        model=results[str(checkpoint)],
        reference=results.get(str(reference)) if reference is not None else None,
        dataset=f"{meta['dataset']} {split} split", num_shapes=len(clean),
        num_points=clean.num_points, seed=int(seed), metric=METRICS[task], timing=timing,
    )


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


def _fmt(v: float, digits: int) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def report_rows(report: RobustnessReport) -> list[dict[str, Any]]:
    """One row per (model, corruption, severity) with its error (``robustness.csv``)."""
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
    """One row per corruption: E(c), and with a reference E_ref(c), CE and RCE, then a row
    ``mean`` (mean error, mCE, relative mCE) (``robustness_summary.csv``)."""
    m, ref = report.model, report.reference
    rows = []
    for c in m.corruptions:
        row = {"corruption": c, "error": m.error(c)}
        if ref is not None:
            row.update(reference_error=ref.error(c), CE=ce(m, ref, c), RCE=rce(m, ref, c))
        rows.append(row)
    row = {"corruption": "mean", "error": m.mean_error()}
    if ref is not None:
        row.update(reference_error=ref.mean_error(), CE=mce(m, ref), RCE=relative_mce(m, ref))
    rows.append(row)
    return rows


def markdown_report(report: RobustnessReport) -> str:
    """Error per corruption x severity, E(c), and with a reference CE and RCE; mCE and relative
    mCE. Without a reference the text says that only raw errors are given."""
    m, ref = report.model, report.reference
    sev = list(m.severities)
    head = ["corruption", *[f"s{s}" for s in sev], "E(c)"] + (["E_ref(c)", "CE", "RCE"] if ref else [])
    lines = [f"checkpoint: {m.checkpoint}",
             f"data: {report.dataset}, {report.num_shapes} shapes x {report.num_points} points, "
             f"corruption seed {report.seed}; metric E: {report.metric}",
             f"reference: {ref.checkpoint}" if ref else
             "reference: none -- raw errors only, no CE / mCE (ModelNet-C normalises by DGCNN; "
             "give --reference CKPT for CE, mCE and relative mCE)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append("| clean | " + " | ".join([""] * len(sev)) + f" | {m.clean_error:.4f} |" +
                 (f" {ref.clean_error:.4f} | | |" if ref else ""))
    undefined = []
    for c in m.corruptions:
        cells = [f"{e:.4f}" for e in m.errors(c)] + [f"{m.error(c):.4f}"]
        if ref:
            ce_c, rce_c = ce(m, ref, c), rce(m, ref, c)
            if math.isnan(ce_c) or math.isnan(rce_c):
                undefined.append(c)
            cells += [f"{ref.error(c):.4f}", _fmt(ce_c, 3), _fmt(rce_c, 3)]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"mean error over corruptions (unnormalised): {m.mean_error():.4f} "
                 f"(mean {'accuracy' if m.task == 'cls' else 'mIoU'} {1 - m.mean_error():.4f})")
    if ref:
        lines.append(f"mCE: {_fmt(mce(m, ref), 3)}   relative mCE: {_fmt(relative_mce(m, ref), 3)}"
                     f"   (reference: mean error {ref.mean_error():.4f}; its own mCE is 1)")
        if undefined:
            lines.append(f"n/a: the reference makes no error on, or is not hurt by, "
                         f"{', '.join(undefined)}; the ratio is undefined there, and so is the mean")
    t = report.timing
    if t:
        lines.append(f"time: clean set {t.get('load_clean_s', 0):.1f} s, corrupted sets "
                     f"{t.get('generate_s', 0):.1f} s ({t.get('generated', 0)} generated, "
                     f"{t.get('cached', 0)} from the cache), inference {t.get('inference_s', 0):.1f} s")
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def plot_heatmap(report: RobustnessReport, path: str | Path) -> None:
    """Heat map of the error per corruption (rows) and severity (columns), annotated; with a
    reference, a second panel for it on the same colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(role, r) for role, r in (("model", report.model), ("reference", report.reference))
              if r is not None]
    m = report.model
    data = [np.array([r.errors(c) for c in m.corruptions]) for _, r in panels]
    vmax = max(1e-6, max(float(np.nanmax(d)) for d in data))
    fig, axes = plt.subplots(1, len(panels), squeeze=False, dpi=120, layout="constrained",
                             figsize=(len(panels) * (0.75 * len(m.severities) + 1.6) + 0.8,
                                      0.45 * len(m.corruptions) + 1.4))
    for ax, (role, r), d in zip(axes[0], panels, data):
        im = ax.imshow(d, cmap="magma_r", vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(r.severities)), [f"s{s}" for s in r.severities], fontsize=8)
        ax.set_yticks(range(len(m.corruptions)), m.corruptions if ax is axes[0][0] else [],
                      fontsize=8)
        for i in range(d.shape[0]):
            for j in range(d.shape[1]):
                ax.text(j, i, f"{d[i, j]:.3f}", ha="center", va="center", fontsize=7,
                        color="white" if d[i, j] > 0.6 * vmax else "black")
        name = "/".join(Path(r.checkpoint).parts[-3:])
        ax.set_title(f"{role}: {name}\nclean {r.clean_error:.3f}, mean {r.mean_error():.3f}",
                     fontsize=7)
    fig.suptitle(report.metric, fontsize=9)
    fig.colorbar(im, ax=list(axes[0]), fraction=0.05)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def report_dict(report: RobustnessReport) -> dict[str, Any]:
    """The report as plain data (``robustness.json``)."""
    out = {"dataset": report.dataset, "num_shapes": report.num_shapes,
           "num_points": report.num_points, "seed": report.seed, "metric": report.metric,
           "timing": report.timing, "model": report.model.as_dict(),
           "reference": report.reference.as_dict() if report.reference is not None else None}
    if report.reference is not None:
        m, ref = report.model, report.reference

        def num(v):
            return None if math.isnan(v) else v

        out["CE"] = {c: num(ce(m, ref, c)) for c in m.corruptions}
        out["RCE"] = {c: num(rce(m, ref, c)) for c in m.corruptions}
        out["mCE"], out["relative_mCE"] = num(mce(m, ref)), num(relative_mce(m, ref))
    return out


def write_robustness_report(report: RobustnessReport, out: str | Path) -> str:
    """Write ``robustness.csv`` (per corruption x severity), ``robustness_summary.csv``
    (E(c), CE, RCE, means), ``robustness.md``, ``robustness.json`` and ``robustness.png`` into
    ``out`` (atomically, each); return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_report(report)
    atomic_write_text(out / "robustness.csv", _csv(report_rows(report)))
    atomic_write_text(out / "robustness_summary.csv", _csv(summary_rows(report)))
    atomic_write_text(out / "robustness.md", "# reldrop3d robustness (ModelNet-C corruptions)\n\n" + md)
    atomic_write_text(out / "robustness.json", json.dumps(report_dict(report), indent=1) + "\n")
    plot_heatmap(report, out / "robustness.png")
    return md


__all__ = [
    "CleanSet",
    "RobustnessError",
    "RobustnessReport",
    "RobustnessResult",
    "ce",
    "clean_test_set",
    "corrupted_arrays",
    "corruption_cache_path",
    "corruption_errors",
    "corruption_fingerprint",
    "evaluate_robustness",
    "markdown_report",
    "mce",
    "per_shape_scores",
    "plot_heatmap",
    "rce",
    "relative_mce",
    "report_dict",
    "report_rows",
    "score_corruptions",
    "summary_rows",
    "write_robustness_report",
]
