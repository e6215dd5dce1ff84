"""Build everything a run needs from a :class:`TrainConfig` and train."""

from __future__ import annotations

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
from ..utils.io import atomic_write_text
from .checkpoint import atomic_checkpoint_io
from .config import TrainConfig
from .input_dropout import InputDropout, masker_from_config
from .module import PointCloudTask
from .samplers import GlobalBatchSampler, ShardSampler

log = logging.getLogger(__name__)


def build_datasets(cfg: TrainConfig) -> tuple[PointCloudDataset, PointCloudDataset]:
    """Training and validation data sets of a run."""
    kw = cfg.dataset_kwargs()
    return create_dataset(cfg.data, "train", **kw), create_dataset(cfg.data, cfg.val_split, **kw)


def build_model(cfg: TrainConfig, train_set: PointCloudDataset) -> tuple[torch.nn.Module, dict]:
    """The model and the keyword arguments that rebuild it."""
    kw = dict(num_classes=train_set.num_classes, in_channels=train_set.in_channels, **cfg.model_kwargs)
    if cfg.task == "partseg":
        if getattr(train_set, "num_parts", 0) < 2:
            raise ValueError(f"data set {cfg.data!r} has no part labels; partseg needs them")
        kw.update(task="partseg", num_parts=train_set.num_parts)
    return create_model(cfg.model, **kw), kw


def geometric_augmentation():
    """The default training augmentation on (B, N, C) batches (see reldrop3d.data.transforms)."""
    from ..data.transforms import default_train_augmentation

    return default_train_augmentation()


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
        augment=geometric_augmentation() if cfg.geometric_augment and not cfg.is_image_data else None,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        epochs=cfg.epochs,
        meta=meta,
        parts_of_class=getattr(train_set, "parts_of_class", {}),
        guidance=guidance,
        guidance_weight=cfg.guidance_weight,
    )


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


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) a run; returns the final validation metrics and the checkpoint paths.

    Writes into ``cfg.out``: ``checkpoints/best.ckpt`` and ``last.ckpt`` (atomic),
    ``metrics.csv`` (one row per logged step/epoch), ``config.json``.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
    train_set, val_set = build_datasets(cfg)
    task = build_task(cfg, train_set)
    monitor = "val_instance_miou" if cfg.task == "partseg" else "val_acc"
    ckpt_cb = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=monitor, mode="max",
                              enable_version_counter=False)
    # Lightning >= 2.5 writes save_last=True's last.ckpt only in epochs that also wrote a best
    # checkpoint; a monitor-free checkpoint of its own is rewritten after every epoch.
    last_cb = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None,
                              save_top_k=1, enable_version_counter=False)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=cfg.precision,
        logger=CSVLogger(out, name="", version=""),
        callbacks=[ckpt_cb, last_cb],
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
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    result = {
        "metrics": metrics,
        "best_checkpoint": ckpt_cb.best_model_path,
        "last_checkpoint": last_cb.best_model_path,
        "out": str(out),
    }
    return result
