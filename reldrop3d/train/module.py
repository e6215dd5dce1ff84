"""The Lightning module: one model, one task, optional input dropout."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..data import batch_to_input
from .input_dropout import InputDropout
from .loss import task_loss, training_loss


class PointCloudTask(L.LightningModule):
    """Classification (``task="cls"``) or part segmentation (``task="partseg"``) of point clouds.

    Parameters
    ----------
    model : nn.Module
        Takes (B, N, C) points (and the category, for partseg).
    num_classes : int
        Classes (cls) or categories (partseg).
    task : {"cls", "partseg"}
    num_parts : int
        Part labels (partseg).
    input_dropout : InputDropout, optional
        Applied to every training batch, before or after the geometric augmentation
        (``augment_order``).
    augment : callable, optional
        Geometric augmentation of the (B, N, C) training batch.
    augment_order : {"mask-first", "augment-first"}
        ``mask-first`` (the official RelDrop order): relevance and mask on the un-augmented batch,
        then ``augment``; ``augment-first``: augment, then explain and mask.
    lr, weight_decay, epochs : Adam and schedule settings.
    scheduler : {"cosine", "step", "constant"}
        Per-epoch learning-rate schedule: cosine to ``lr / 100`` over ``epochs``, StepLR
        (``lr_step``, ``lr_gamma``) or none.
    forward_mode : {"train", "eval"}
        Mode of the training forward pass; ``eval`` (running BatchNorm statistics, no dropout)
        reproduces the official RelDrop code, whose relevance call leaves the model in eval mode.
    meta : dict
        Stored in every checkpoint (see :mod:`reldrop3d.train.checkpoint`).
    guidance : GuidanceLoss, optional
        Explanation-guidance loss (:mod:`reldrop3d.guidance`); training batches must carry
        ``roi`` (B, N) bool. The step loss becomes ``CE + guidance_weight * guidance(...)``.
    guidance_weight : float
    """

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        task: str = "cls",
        num_parts: int = 0,
        input_dropout: InputDropout | None = None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 10,
        meta: dict | None = None,
        parts_of_class: dict[int, list[int]] | None = None,
        guidance=None,
        guidance_weight: float = 1.0,
        augment_order: str = "mask-first",
        scheduler: str = "cosine",
        lr_step: int = 20,
        lr_gamma: float = 0.7,
        forward_mode: str = "train",
    ):
        super().__init__()
        self.model = model
        self.task = task
        self.num_classes = num_classes
        self.num_parts = num_parts
        self.input_dropout = input_dropout or InputDropout()
        self.augment = augment
        self.lr, self.weight_decay, self.epochs = lr, weight_decay, epochs
        if augment_order not in ("mask-first", "augment-first"):
            raise ValueError(f"augment_order must be mask-first or augment-first, got {augment_order!r}")
        if scheduler not in ("cosine", "step", "constant"):
            raise ValueError(f"scheduler must be cosine, step or constant, got {scheduler!r}")
        if forward_mode not in ("train", "eval"):
            raise ValueError(f"forward_mode must be train or eval, got {forward_mode!r}")
        self.augment_order, self.forward_mode = augment_order, forward_mode
        self.scheduler, self.lr_step, self.lr_gamma = scheduler, lr_step, lr_gamma
        self.meta = meta or {}
        self.parts_of_class = parts_of_class or {}
        self.guidance = guidance
        self.guidance_weight = float(guidance_weight)
        k = num_parts if task == "partseg" else num_classes
        self.val_acc = MulticlassAccuracy(k, average="micro")
        self.val_macc = MulticlassAccuracy(k, average="macro")
        if task == "partseg":
            from .metrics import PartIoU

            self.val_iou = PartIoU(num_classes, num_parts, self.parts_of_class)

    # -- helpers -------------------------------------------------------------------------
    def _split(self, batch):
        x = batch_to_input(batch)
        if self.task == "partseg":
            return x, batch["parts"], batch["label"]
        return x, batch["label"], None

    def forward(self, x: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x, category) if self.task == "partseg" else self.model(x)

    # -- steps ---------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x, target, category = self._split(batch)
        if self.augment is not None and self.augment_order == "augment-first":
            x = self.augment(x)
        x, mask = self.input_dropout(self.model, x, target, category, index=batch.get("index"),
                                     epoch=self.current_epoch)
        counts = self.input_dropout.sync_cache()  # every rank, every step (a DDP collective)
        if self.augment is not None and self.augment_order == "mask-first":
            x = self.augment(x)
        if self.forward_mode == "eval":
            self.model.eval()  # the official code's training forward (docs/fidelity.md)
        step = training_loss(
            self.model, x, target, category=category, roi=batch.get("roi"),
            guidance=self.guidance, guidance_weight=self.guidance_weight,
        )
        loss, bs = step.loss, x.shape[0]
        if step.penalty is not None:
            self.log("train_guidance", step.penalty, batch_size=bs, on_step=False, on_epoch=True,
                     sync_dist=True)
        # sync_dist: under DDP the logged values are means over all processes
        self.log("train_loss", loss, prog_bar=True, batch_size=bs, on_step=True, on_epoch=True,
                 sync_dist=True)
        if counts is not None:  # logged on every rank alike (sync_dist)
            self.log("train_relevance_cached", counts[0] / max(1, sum(counts)),
                     batch_size=max(1, sum(counts)),
                     on_epoch=True, on_step=False, sync_dist=True)
        if mask is not None:
            self.log("train_drop_rate", mask.float().mean(), batch_size=bs, on_epoch=True,
                     on_step=False, sync_dist=True)
        return loss

    def on_train_start(self):
        # the relevance cache is not saved in checkpoints: a resumed (or repeated) fit rebuilds it
        self.input_dropout.reset_cache()

    def validation_step(self, batch, batch_idx):
        x, target, category = self._split(batch)
        logits = self(x, category)
        loss = task_loss(self.model, logits, target)
        pred = logits.argmax(-1)
        self.val_acc.update(pred.flatten(), target.flatten())
        self.val_macc.update(pred.flatten(), target.flatten())
        if self.task == "partseg":
            self.val_iou.update(logits, target, category)
        self.log("val_loss", loss, prog_bar=False, batch_size=x.shape[0], sync_dist=True)

    def on_validation_epoch_end(self):
        self.log("val_acc", self.val_acc.compute(), prog_bar=True, sync_dist=True)
        self.log("val_macc", self.val_macc.compute(), sync_dist=True)
        self.val_acc.reset()
        self.val_macc.reset()
        if self.task == "partseg":
            inst, cls = self.val_iou.compute()
            self.log("val_instance_miou", inst, prog_bar=True, sync_dist=True)
            self.log("val_class_miou", cls, sync_dist=True)
            self.val_iou.reset()

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler == "constant":
            return opt
        if self.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.lr_step, gamma=self.lr_gamma)
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.epochs),
                                                               eta_min=self.lr * 0.01)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["reldrop3d"] = self.meta
