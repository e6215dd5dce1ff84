"""Build everything a run needs from a :class:`TrainConfig` and train."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from ..data import PointCloudDataset, create_dataset
from ..models import create_model
from ..models.checkpoint import META_KEY, read_checkpoint
from ..utils.io import atomic_write_text
from .checkpoint import atomic_checkpoint_io
from .config import TrainConfig
from .guards import check_batch_size, check_data_root_used, finite_guard, finite_or_none
from .input_dropout import InputDropout, masker_from_config
from .metrics_log import METRICS_FILE, MetricsCSV, metric_rows, truncate_metrics
from .module import PointCloudTask
from .quiet import EpochProgressLine, quiet_lightning
from .run_dir import CHECKPOINT_DIR, RunDirError, RunLock, check_run_dir, clear_run_dir
from .samplers import GlobalBatchSampler, ShardSampler
from .seeding import EpochSeeding

log = logging.getLogger(__name__)


def build_datasets(cfg: TrainConfig) -> tuple[PointCloudDataset, PointCloudDataset]:
    """Training and validation data sets of a run.

    ``cfg.val_split``: ``holdout`` keeps a stratified, seeded share ``cfg.val_fraction`` of the
    training split apart (the rest is trained on); ``auto`` uses the data set's own ``val`` split
    where it has one (and the training split is not ``trainval``), else a holdout; ``val`` /
    ``test`` select on that split (``test`` is logged as a warning: the reported accuracy is
    then chosen on the test data).
    """
    from ..data.splits import SubsetDataset, dataset_splits, stratified_holdout

    kw = cfg.dataset_kwargs()
    train_set = create_dataset(cfg.data, cfg.train_split, **kw)
    check_data_root_used(train_set, cfg.data_root, cfg.data)
    mode = cfg.val_split
    if mode == "auto":
        has_val = "val" in dataset_splits(cfg.data) and cfg.train_split != "trainval"
        mode = "val" if has_val else "holdout"
    if mode == "holdout":
        kept, held = stratified_holdout(train_set.labels(), cfg.val_fraction, cfg.seed)
        if len(held) == 0 or len(kept) == 0:
            raise ValueError(
                f"--val-split holdout: the {cfg.train_split} split of {cfg.data} ({len(train_set)} "
                f"samples) is too small to hold out {cfg.val_fraction:.0%} per class; use "
                f"--val-split val or test")
        log.info("validation: %d of %d %s samples held out (stratified, seed %d)", len(held),
                 len(train_set), cfg.train_split, cfg.seed)
        return (SubsetDataset(train_set, kept, cfg.train_split),
                SubsetDataset(train_set, held, "holdout"))
    if mode == "test":
        log.warning("--val-split test: the best checkpoint is selected on the TEST split; "
                    "accuracies reported for it are optimistic")
    return train_set, create_dataset(cfg.data, mode, **kw)


def build_model(cfg: TrainConfig, train_set: PointCloudDataset) -> tuple[torch.nn.Module, dict]:
    """The model and the keyword arguments that rebuild it."""
    kw = dict(num_classes=train_set.num_classes, in_channels=train_set.in_channels, **cfg.model_kwargs)
    if cfg.task == "partseg":
        if getattr(train_set, "num_parts", 0) < 2:
            raise ValueError(f"data set {cfg.data!r} has no part labels; partseg needs them")
        kw.update(task="partseg", num_parts=train_set.num_parts)
    return create_model(cfg.model, **kw), kw


def geometric_augmentation(kind: str = "standard"):
    """The training augmentation on (B, N, C) batches (see reldrop3d.data.transforms), or None.

    ``standard``: :func:`~reldrop3d.data.transforms.default_train_augmentation`; ``official``:
    :func:`~reldrop3d.data.transforms.official_reldrop_augmentation`; ``none``.
    """
    from ..data.transforms import default_train_augmentation, official_reldrop_augmentation

    return {"standard": default_train_augmentation, "official": official_reldrop_augmentation,
            "none": lambda: None}[kind]()


def build_task(cfg: TrainConfig, train_set: PointCloudDataset) -> PointCloudTask:
    model, model_kwargs = build_model(cfg, train_set)
    meta = {
        "model": cfg.model,
        "model_kwargs": model_kwargs,
        "dataset": cfg.data,
        "data_kwargs": cfg.dataset_kwargs(),
        "classes": list(train_set.classes),
        "num_points": cfg.num_points,
        "use_normals": cfg.use_normals,
        "task": cfg.task,
        "num_parts": getattr(train_set, "num_parts", 0),
        "parts_of_class": {int(k): list(v) for k, v in getattr(train_set, "parts_of_class", {}).items()},
        "config": cfg.to_dict(),
    }
    dropout = InputDropout(masker_from_config(cfg), method=cfg.relevance_method,
                           relevance_every=cfg.relevance_every,
                           # batch["index"] is the index in the base set of a subset
                           num_samples=len(getattr(train_set, "base", train_set)),
                           start=cfg.lrp_start, composite=cfg.lrp_composite)
    guidance = None
    if cfg.guidance is not None:
        from ..guidance import create_guidance

        guidance = create_guidance(cfg.guidance, **cfg.guidance_kwargs)
    return PointCloudTask(
        model,
        num_classes=train_set.num_classes,
        task=cfg.task,
        num_parts=getattr(train_set, "num_parts", 0),
        input_dropout=dropout,
        augment=None if cfg.is_image_data else geometric_augmentation(cfg.geometric_augment),
        augment_order=cfg.augment_order,
        scheduler=cfg.scheduler,
        lr_step=cfg.lr_step,
        lr_gamma=cfg.lr_gamma,
        forward_mode=cfg.forward_mode,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        epochs=cfg.epochs,
        meta=meta,
        parts_of_class=getattr(train_set, "parts_of_class", {}),
        guidance=guidance,
        guidance_weight=cfg.guidance_weight,
    )


class ValidationHistory(L.Callback):
    """Records the validation metrics of every epoch (``history``: one dict per epoch)."""

    def __init__(self, history: list[dict[str, float]] | None = None):
        self.history: list[dict[str, float]] = list(history or [])

    def on_validation_end(self, trainer, pl_module) -> None:  # after the module's epoch-end logs
        if trainer.sanity_checking:
            return
        row = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        self.history.append({"epoch": int(trainer.current_epoch), **row})


def best_and_last(history: list[dict[str, float]], monitor: str) -> dict[str, dict | None]:
    """The validation metrics of the best epoch (by ``monitor``, the earliest on ties) and of
    the last epoch."""
    rows = [r for r in history if monitor in r]
    if not rows:
        return {"best": None, "last": None}
    best = max(rows, key=lambda r: (r[monitor], -r["epoch"]))
    return {"best": best, "last": rows[-1]}


def make_loader(ds, cfg: TrainConfig, train: bool, world_size: int = 1, rank: int = 0) -> DataLoader:
    """A loader for this process: its slice of every global training batch, or its evaluation shard.

    See :mod:`reldrop3d.train.samplers`: a run on ``W`` processes with batch ``b`` sees the same
    global batches as one process with batch ``W * b`` (or batch ``b`` and ``W`` accumulation
    steps); evaluation covers every sample exactly once.
    """
    if train:
        sampler = GlobalBatchSampler(len(ds), cfg.batch_size, world_size, rank, seed=cfg.seed)
    else:
        sampler = ShardSampler(len(ds), world_size, rank)
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
        # the loader's own seed draws leave the global stream alone (reldrop3d.train.seeding)
        generator=torch.Generator().manual_seed(cfg.seed),
    )


#: settings a resumed checkpoint must share with the run (they shape the model)
RESUME_MUST_MATCH = ("task", "model", "model_kwargs", "data", "use_normals")


def _resume_epoch(cfg: TrainConfig) -> int:
    """The epoch the ``--resume`` checkpoint completed; refuses one of another model."""
    ckpt = read_checkpoint(cfg.resume)
    saved = ckpt[META_KEY].get("config") or {}
    have = cfg.to_dict()
    differ = [k for k in RESUME_MUST_MATCH if k in saved and saved[k] != have[k]]
    if differ:
        raise RunDirError(
            f"--resume {cfg.resume}: the checkpoint was trained with " +
            ", ".join(f"{k}={saved[k]!r}" for k in differ) + "; this run asks for " +
            ", ".join(f"{k}={have[k]!r}" for k in differ) + " (resume with the checkpoint's "
            "settings, or start a new run)")
    return int(ckpt.get("epoch", -1))


def _launched_rank() -> int:
    """This process's global rank as its launcher (torchrun, SLURM, Lightning) set it; 0 alone."""
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def train(cfg: TrainConfig, callbacks: list[L.Callback] | tuple = ()) -> dict[str, Any]:
    """Train (or resume) a run; returns the final validation metrics and the checkpoint paths.

    Writes into ``cfg.out``: ``checkpoints/best.ckpt`` and ``last.ckpt`` (atomic, at epoch
    ends), ``metrics.csv`` (one row per logged step/epoch; continued on ``--resume``),
    ``config.json``; ``train.lock`` while it runs (see :mod:`reldrop3d.train.run_dir`).
    Lightning's notices that do not concern the user are filtered
    (:func:`reldrop3d.train.quiet.quiet_lightning`).

    Parameters
    ----------
    cfg : TrainConfig
    callbacks : Lightning callbacks, optional
        Added to the run's own.

    Returns
    -------
    dict
        ``metrics`` (the last logged values), ``best`` and ``last`` (validation metrics of the best
        and the last epoch, over the whole run, resumptions included), ``monitor``, ``val_split``,
        ``best_checkpoint``, ``last_checkpoint``, ``out``. Non-finite numbers are None (valid JSON).

    Raises
    ------
    RunDirError
        ``cfg.out`` holds a run and neither ``resume`` nor ``overwrite`` is set; another process
        trains into it; the resumed checkpoint is of another model.
    TrainingDiverged
        The loss or the parameters became NaN / inf.
    ValueError
        Impossible settings for the data (e.g. a batch larger than the training set).
    """
    with quiet_lightning():
        return _train(cfg, list(callbacks))


def _train(cfg: TrainConfig, callbacks: list) -> dict[str, Any]:
    out = Path(cfg.out)
    resume_epoch = _resume_epoch(cfg) if cfg.resume is not None else None
    lock = RunLock(out) if _launched_rank() == 0 else None  # rank 0 owns the folder
    if lock is not None:
        lock.acquire()
    try:
        replaced = check_run_dir(out, cfg.resume, cfg.overwrite) if lock is not None else []
        return _fit(cfg, out, replaced, resume_epoch, lock is not None, callbacks)
    finally:
        if lock is not None:
            lock.release()


def _fit(cfg: TrainConfig, out: Path, replaced: list[str], resume_epoch: int | None,
         owner: bool, callbacks: list) -> dict[str, Any]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    train_set, val_set = build_datasets(cfg)
    task = build_task(cfg, train_set)
    monitor = "val_instance_miou" if cfg.task == "partseg" else "val_acc"
    ckpts = out / CHECKPOINT_DIR
    ckpt_cb = ModelCheckpoint(dirpath=ckpts, filename="best", monitor=monitor, mode="max",
                              enable_version_counter=False)
    # Lightning >= 2.5 writes save_last=True's last.ckpt only in epochs that also wrote a best
    # checkpoint; a monitor-free checkpoint of its own is rewritten after every epoch.
    last_cb = ModelCheckpoint(dirpath=ckpts, filename="last", monitor=None,
                              save_top_k=1, enable_version_counter=False)
    metrics_path = out / METRICS_FILE
    earlier = []
    if resume_epoch is not None:  # the validation history of the epochs before the resume
        earlier = [{"epoch": int(r["epoch"]), **{k: v for k, v in r.items() if k.startswith("val_")}}
                   for r in metric_rows(metrics_path) if "epoch" in r and r["epoch"] <= resume_epoch
                   and any(k.startswith("val_") for k in r)]
    history = ValidationHistory(earlier)
    callbacks = [ckpt_cb, last_cb, history, EpochSeeding(cfg.seed, task.input_dropout),
                 finite_guard(), *callbacks]
    if not cfg.progress:  # non-interactive logs: one line per epoch instead of a progress bar
        callbacks.append(EpochProgressLine())
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.precision,
        logger=MetricsCSV(out),
        callbacks=callbacks,
        plugins=[atomic_checkpoint_io()],
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        # Lightning counts batches, not optimiser steps
        limit_train_batches=(cfg.max_steps_per_epoch * cfg.accumulate_grad_batches
                             if cfg.max_steps_per_epoch else 1.0),
        accumulate_grad_batches=cfg.accumulate_grad_batches,
        use_distributed_sampler=False,  # our samplers shard (make_loader)
        log_every_n_steps=10,
        num_sanity_val_steps=0,
        deterministic=None,  # leaves torch.use_deterministic_algorithms as the caller set it
    )
    world, rank = trainer.world_size, trainer.global_rank
    holdout = " minus the validation holdout" if getattr(val_set, "split", None) == "holdout" else ""
    check_batch_size(cfg.batch_size, world, len(train_set),
                     f"the {cfg.train_split} split of {cfg.data}{holdout}")
    if owner:  # everything checked: from here on the folder is this run's
        clear_run_dir(out, replaced)
        if resume_epoch is not None:
            dropped, aside = truncate_metrics(metrics_path, resume_epoch)
            if dropped:
                log.warning("--resume: %d row(s) of %s were logged after the checkpoint (epoch "
                            "%d)%s", dropped, metrics_path, resume_epoch,
                            f"; kept aside in {aside}" if aside else " and are dropped")
        atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
    trainer.fit(
        task,
        make_loader(train_set, cfg, train=True, world_size=world, rank=rank),
        make_loader(val_set, cfg, train=False, world_size=world, rank=rank),
        ckpt_path=cfg.resume,
        weights_only=True,  # nothing stored in a checkpoint runs (models.checkpoint)
    )
    last = last_cb.best_model_path or (str(ckpts / "last.ckpt") if (ckpts / "last.ckpt").is_file()
                                       else "")
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    result = {
        "metrics": metrics,
        # best-over-epochs AND last, as papers report either (monitor: the selection metric)
        "monitor": monitor,
        "val_split": cfg.val_split,
        **best_and_last(history.history, monitor),
        "best_checkpoint": ckpt_cb.best_model_path,
        "last_checkpoint": last,
        "out": str(out),
    }
    return finite_or_none(result)
