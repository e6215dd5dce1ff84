"""Helpers shared by the reliability tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

from reldrop3d.train.config import TrainConfig


def tiny_run_config(out, **overrides) -> TrainConfig:
    """The smallest real training run (16 synthetic shapes, 32 points, one epoch) writing to
    ``out``; ``overrides`` replace any field."""
    base = dict(data="synthetic", data_kwargs={"num_shapes": {"train": 16, "val": 4}},
                val_split="val", num_points=32, epochs=1, batch_size=8, augment="none",
                out=str(out), progress=False, accelerator="cpu")
    base.update(overrides)
    return TrainConfig(**base)
