"""Build everything a run needs from a :class:`TrainConfig` and train."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from ..data import PointCloudDataset, create_dataset
from ..models import create_model
from ..utils.io import atomic_path, atomic_write_text
from .checkpoint import atomic_checkpoint_io
from .config import TrainConfig
from .input_dropout import InputDropout, masker_from_config
from .module import PointCloudTask
from .quiet import EpochProgressLine, quiet_lightning
from .samplers import GlobalBatchSampler, ShardSampler

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

    def __init__(self):
        self.history: list[dict[str, float]] = []

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
    )


def read_metrics(path: Path) -> list[dict[str, str]]:
    """The rows of a run's ``metrics.csv`` (empty if there is none yet)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def keep_earlier_metrics(path: Path, earlier: list[dict[str, str]]) -> None:
    """Put the rows of the epochs before a resume back into ``metrics.csv``.

    Lightning's CSV logger deletes an existing ``metrics.csv`` when a run starts; on ``--resume``
    the history of the epochs before the checkpoint would be lost. Rows of ``earlier`` whose epoch
    precedes the first epoch logged now are kept (rows of epochs that were trained again are
    superseded); the file is rewritten atomically with the union of the columns.
    """
    if not earlier:
        return
    now = read_metrics(path)
    epochs = [int(r["epoch"]) for r in now if r.get("epoch")]
    first = min(epochs) if epochs else None
    kept = [r for r in earlier if first is None or (r.get("epoch") and int(r["epoch"]) < first)]
    rows = kept + now
    columns = sorted({k for r in rows for k in r})
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) a run; returns the final validation metrics and the checkpoint paths.

    Writes into ``cfg.out``: ``checkpoints/best.ckpt`` and ``last.ckpt`` (atomic),
    ``metrics.csv`` (one row per logged step/epoch; the earlier epochs' rows are kept on
    ``resume``), ``config.json``. Lightning's notices that do
    not concern the user are filtered (:func:`reldrop3d.train.quiet.quiet_lightning`).
    """
    with quiet_lightning():
        return _train(cfg)


def _train(cfg: TrainConfig) -> dict[str, Any]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
    train_set, val_set = build_datasets(cfg)
    task = build_task(cfg, train_set)
    earlier_metrics = read_metrics(out / "metrics.csv") if cfg.resume else []
    monitor = "val_instance_miou" if cfg.task == "partseg" else "val_acc"
    ckpt_cb = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=monitor, mode="max",
                              enable_version_counter=False)
    # Lightning >= 2.5 writes save_last=True's last.ckpt only in epochs that also wrote a best
    # checkpoint; a monitor-free checkpoint of its own is rewritten after every epoch.
    last_cb = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None,
                              save_top_k=1, enable_version_counter=False)
    history = ValidationHistory()
    callbacks = [ckpt_cb, last_cb, history]
    if not cfg.progress:  # non-interactive logs: one line per epoch instead of a progress bar
        callbacks.append(EpochProgressLine())
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.precision,
        logger=CSVLogger(out, name="", version=""),
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
        deterministic=False,
    )
    world, rank = trainer.world_size, trainer.global_rank
    if rank > 0:  # same initial weights (DDP broadcasts rank 0's), own random masks/augmentations
        torch.manual_seed(cfg.seed + 7919 * rank)
    trainer.fit(
        task,
        make_loader(train_set, cfg, train=True, world_size=world, rank=rank),
        make_loader(val_set, cfg, train=False, world_size=world, rank=rank),
        ckpt_path=cfg.resume,
        weights_only=True,  # nothing stored in a checkpoint runs (models.checkpoint)
    )
    if rank == 0:
        keep_earlier_metrics(out / "metrics.csv", earlier_metrics)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    result = {
        "metrics": metrics,
        # best-over-epochs AND last, as papers report either (monitor: the selection metric)
        "monitor": monitor,
        "val_split": cfg.val_split,
        **best_and_last(history.history, monitor),
        "best_checkpoint": ckpt_cb.best_model_path,
        "last_checkpoint": last_cb.best_model_path,
        "out": str(out),
    }
    return result
