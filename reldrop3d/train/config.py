"""Training configuration: one dataclass, filled from the CLI or from Python."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..masking import defaults

AUGMENTS = ("none", "random", "reldrop")
TASKS = ("cls", "partseg")


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved into every checkpoint)."""

    data: str = "synthetic"
    data_root: str | None = None
    data_kwargs: dict[str, Any] = field(default_factory=dict)
    num_points: int = 1024
    use_normals: bool = False
    task: str = "cls"
    model: str = "pointnet"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    augment: str = "reldrop"
    alpha: float = defaults.ALPHA
    beta: float = defaults.BETA
    fill: str = defaults.FILL
    mask_mode: str = defaults.MODE
    mask_p: float = defaults.P
    dropout_max_ratio: float = defaults.RANDOM_MAX_RATIO
    relevance_method: str = "lrp"
    lrp_start: str = "log_softmax"  # where RelDrop's relevance starts: the official code's choice
    lrp_composite: str = "epsilon-flat"  # LRP rules (reldrop3d.explain.composites)
    guidance: str | None = None
    guidance_weight: float = 1.0
    guidance_kwargs: dict[str, Any] = field(default_factory=dict)
    geometric_augment: bool = True
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    num_workers: int = 0
    out: str = "runs/default"
    resume: str | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_steps_per_epoch: int | None = None
    accumulate_grad_batches: int = 1
    progress: bool = True
    val_split: str = "test"

    def __post_init__(self):
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for name in ("alpha", "beta", "mask_p"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {v}")
        for name in ("epochs", "batch_size", "num_points", "accumulate_grad_batches"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        from ..explain import STARTS, list_composites

        if self.lrp_start not in STARTS:
            raise ValueError(f"lrp_start must be one of {STARTS}, got {self.lrp_start!r}")
        if self.lrp_composite not in list_composites():
            raise ValueError(f"unknown lrp_composite {self.lrp_composite!r}; choose from {list_composites()}")
        if self.guidance is not None:
            from ..guidance import GUIDANCE

            if self.guidance not in GUIDANCE:
                raise ValueError(
                    f"unknown guidance loss {self.guidance!r}; choose from {GUIDANCE.names()}"
                )
        if not self.guidance_weight >= 0:
            raise ValueError(f"guidance_weight must be >= 0, got {self.guidance_weight}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def is_image_data(self) -> bool:
        from ..data import IMAGE_DATASETS

        return self.data in IMAGE_DATASETS

    def dataset_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`reldrop3d.data.create_dataset` (besides the split)."""
        if self.is_image_data:
            kw = dict(self.data_kwargs)
        else:
            kw = dict(num_points=self.num_points, use_normals=self.use_normals, **self.data_kwargs)
        if self.data_root is not None:
            kw["root"] = self.data_root
        return kw
