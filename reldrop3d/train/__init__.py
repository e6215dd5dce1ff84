"""Training: the run configuration, the one training-step loss, input dropout in the step, the
Lightning module, checkpoints written atomically and the ``train(cfg)`` entry point.

``from reldrop3d.train import TrainConfig, train`` is the library front door of ``reldrop3d
train``. The Lightning pieces (:class:`PointCloudTask`, :func:`train`) import Lightning, so they
load on first use.
"""

from __future__ import annotations

from .config import TrainConfig
from .input_dropout import InputDropout, masker_from_config
from .loss import AUX_LOSS_WEIGHT, StepLoss, task_loss, training_loss
from .metrics import PartIoU, shape_ious

_LAZY = {"PointCloudTask": "module", "train": "run", "build_task": "run", "build_datasets": "run"}

__all__ = ["AUX_LOSS_WEIGHT", "InputDropout", "PartIoU", "StepLoss", "TrainConfig", "masker_from_config",
           "shape_ious", "task_loss", "training_loss", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
