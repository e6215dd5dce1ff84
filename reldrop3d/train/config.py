"""Training configuration: one dataclass, the single list of a run's settings.

Each field is declared once with :func:`reldrop3d.utils.config.option`; the ``reldrop3d train``
flags and the keys of a ``--config`` YAML file are generated from it, so they cannot drift apart.
The resolved configuration is saved with every run (``config.json``, and in every checkpoint).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..masking import defaults
from ..utils.config import option

AUGMENTS = ("none", "random", "reldrop")
TASKS = ("cls", "partseg")
SCHEDULERS = ("cosine", "step", "constant")
GEOMETRIC_AUGMENTS = ("standard", "official", "none")
AUGMENT_ORDERS = ("mask-first", "augment-first")
VAL_SPLITS = ("auto", "holdout", "val", "test")
FORWARD_MODES = ("train", "eval")
# fields that say how a run is started, not what it computes (left out of TrainConfig.settings)
LIFECYCLE_FIELDS = ("resume", "overwrite")
# data-set arguments that have a field of their own (``--data-kw`` may not set them)
OWN_DATA_FIELDS = {"num_points": "--num-points", "use_normals": "--normals", "root": "--data-root",
                   "skip_missing": "--skip-missing"}


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved into every checkpoint)."""

    # -- data ----------------------------------------------------------------------------------
    data: str = option("synthetic", "data set name", group="data")
    data_root: str | None = option(None, "data set folder (default: data/<name>)", group="data")
    data_format: str | None = option(None, "on-disk format, e.g. h5 | normal | off (default: auto)",
                                     flag="--format", group="data")
    data_kwargs: dict[str, Any] = option(
        default_factory=dict, help="extra data-set arguments, e.g. num_shapes=1000 sampling=fps",
        flag="--data-kw", group="data", kind="kv")
    num_points: int = option(1024, "points per cloud", group="data")
    use_normals: bool = option(False, "use xyz + normals as input", flag="--normals", group="data")
    skip_missing: bool = option(False, "ModelNet / ShapeNet: train on the shapes present when list "
                                "files name missing ones (logs how many per split)", group="data")
    train_split: str = option("train", "split trained on (e.g. trainval for ShapeNet, as the "
                              "official code trains its 16-class ShapeNet run)", group="data")
    val_split: str = option(
        "auto", "split the best checkpoint is selected on: auto (the data set's val split, else "
        "holdout), holdout (a stratified, seeded share of the training split, see --val-fraction), "
        "val, or test (selects on the test split: reported results are then optimistic)",
        group="data", choices=VAL_SPLITS)
    val_fraction: float = option(0.1, "share of the training split held out for validation "
                                 "with --val-split holdout/auto", group="data")
    # -- model ---------------------------------------------------------------------------------
    task: str = option("cls", "classification or part segmentation", group="model", choices=TASKS)
    model: str = option("pointnet", "registered model name", group="model")
    model_kwargs: dict[str, Any] = option(
        default_factory=dict, help="model arguments, e.g. dropout=0.4", flag="--model-kw",
        group="model", kind="kv")
    # -- input dropout -------------------------------------------------------------------------
    augment: str = option("reldrop", "input dropout: none, random (PointNet++'s random point "
                          "dropout) or reldrop", group="input dropout", choices=AUGMENTS)
    alpha: float = option(defaults.ALPHA, "RelDrop randomness", group="input dropout")
    beta: float = option(defaults.BETA, "RelDrop aggressiveness", group="input dropout")
    fill: str = option(defaults.FILL, "what dropped points become (zero|first|centroid|mean|"
                       "resample)", group="input dropout")
    mask_mode: str = option(defaults.MODE, "RelDrop mode: point (paper) or region", group="input dropout")
    mask_p: float = option(defaults.P, "share of each batch that is masked", group="input dropout")
    dropout_max_ratio: float = option(defaults.RANDOM_MAX_RATIO, "random dropout: PointNet++'s maximum ratio",
                                      group="input dropout")
    relevance_method: str = option("lrp", "relevance method for RelDrop", flag="--relevance",
                                   group="input dropout")
    lrp_start: str = option(
        "log_softmax", "where RelDrop's relevance starts: logit (R sums to z_t), onehot (R at the "
        "target logit = 1) or log_softmax (the official code's: e_t - softmax(z) at the logits)",
        group="input dropout", choices=("logit", "onehot", "log_softmax"))
    lrp_composite: str = option("epsilon-flat", "LRP rules (reldrop3d.explain.composites), e.g. "
                                "epsilon-flat, epsilon, reldrop-official, reldrop-official-2d",
                                group="input dropout")
    relevance_every: int = option(
        1, "reuse each sample's RelDrop relevance for K epochs (1: fresh every step); the mask is "
        "still drawn fresh every step, only the relevance is up to K-1 epochs old; needs "
        "--augment-order mask-first (docs/training.md, Relevance reuse)", group="input dropout")
    augment_order: str = option(
        "mask-first", "mask-first: relevance and mask on the un-augmented batch, then the "
        "geometric augmentation (the official code's order); augment-first: augment, then explain "
        "and mask the augmented batch", group="input dropout", choices=AUGMENT_ORDERS)
    # -- guidance ------------------------------------------------------------------------------
    guidance: str | None = option(
        None, "guidance loss: rrr|gradmask|actdiff|energy|l1|ppce|isnet (needs a data set with "
        "'roi', e.g. --data-kw clutter=biased); combinable with --augment",
        group="explanation guidance (reldrop3d.guidance)")
    guidance_weight: float = option(1.0, "W in CE + W * guidance loss",
                                    group="explanation guidance (reldrop3d.guidance)")
    guidance_kwargs: dict[str, Any] = option(
        default_factory=dict, help="guidance loss arguments, e.g. c1=0.5 c2=12 for isnet",
        flag="--guidance-kw", group="explanation guidance (reldrop3d.guidance)", kind="kv")
    # -- augmentation --------------------------------------------------------------------------
    geometric_augment: str = option(
        "standard", "geometric training augmentation: standard (anisotropic scale U(0.8, 1.25), "
        "shift U(-0.1, 0.1), jitter N(0, 0.01)), official (the RelDrop code's: isotropic scale "
        "U(0.8, 1.25) and shift U(-0.1, 0.1), no jitter) or none", group="augmentation",
        choices=GEOMETRIC_AUGMENTS)
    # -- optimisation --------------------------------------------------------------------------
    epochs: int = option(10, "training epochs", group="optimisation")
    batch_size: int = option(32, "batch size (per process)", group="optimisation")
    lr: float = option(1e-3, "Adam learning rate", group="optimisation")
    weight_decay: float = option(1e-4, "Adam weight decay", group="optimisation")
    scheduler: str = option(
        "cosine", "learning-rate schedule: cosine (to lr/100), step (StepLR, see --lr-step, "
        "--lr-gamma) or constant", group="optimisation", choices=SCHEDULERS)
    lr_step: int = option(20, "StepLR: epochs between decays", group="optimisation")
    lr_gamma: float = option(0.7, "StepLR: decay factor", group="optimisation")
    forward_mode: str = option(
        "train", "mode of the training forward pass: train, or eval (BatchNorm running statistics, "
        "no dropout: what the official RelDrop code does, see docs/fidelity.md)",
        group="optimisation", choices=FORWARD_MODES)
    seed: int = option(0, "seed of weights, batches, masks and augmentation", group="optimisation")
    max_steps_per_epoch: int | None = option(None, "stop each epoch after this many optimiser "
                                             "steps (default: the whole split)", group="optimisation")
    accumulate_grad_batches: int = option(1, "optimiser step every N batches (gradients averaged)",
                                          group="optimisation")
    # -- run -----------------------------------------------------------------------------------
    out: str = option("runs/default", "output folder", group="run")
    resume: str | None = option(None, "checkpoint to resume from (e.g. OUT/checkpoints/last.ckpt): "
                                "the run continues at the epoch after it, metrics.csv is continued",
                                group="run")
    overwrite: bool = option(False, "replace the run already in --out (its checkpoints, "
                             "metrics.csv and config.json are deleted first); without it (or "
                             "--resume) a --out holding a run is refused", group="run")
    accelerator: str = option("auto", "cpu, gpu or auto", group="run")
    devices: int | str = option(1, "devices (an int, or e.g. auto)", group="run")
    strategy: str = option("auto", "e.g. ddp (use with torchrun)", group="run")
    precision: str = option("32-true", "e.g. 16-mixed, bf16-mixed", group="run")
    num_workers: int = option(0, "data-loader worker processes", group="run")
    progress: bool = option(True, "progress bar", group="run")

    def __post_init__(self):
        if isinstance(self.geometric_augment, bool):  # the former on/off switch
            self.geometric_augment = "standard" if self.geometric_augment else "none"
        choices = {"augment": AUGMENTS, "task": TASKS, "scheduler": SCHEDULERS,
                   "geometric_augment": GEOMETRIC_AUGMENTS, "augment_order": AUGMENT_ORDERS,
                   "val_split": VAL_SPLITS, "forward_mode": FORWARD_MODES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("alpha", "beta", "mask_p"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {v}")
        for name in ("epochs", "batch_size", "num_points", "accumulate_grad_batches", "lr_step"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if isinstance(self.relevance_every, bool) or not isinstance(self.relevance_every, int) \
                or self.relevance_every < 1:
            raise ValueError(f"relevance_every (--relevance-every) must be an integer >= 1, got "
                             f"{self.relevance_every!r}")
        if self.relevance_every > 1 and self.augment_order == "augment-first" \
                and self.geometric_augment != "none" and not self.is_image_data:
            raise ValueError(
                "relevance_every > 1 (--relevance-every) reuses the relevance of the un-augmented "
                "cloud; with --augment-order augment-first every step explains a new augmented "
                "cloud, so nothing can be reused: use --augment-order mask-first")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be >= 1 (leave it out for the whole "
                             f"split), got {self.max_steps_per_epoch}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        if self.resume is not None and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: --resume continues a run, "
                             "--overwrite replaces it; give one of them")
        if not 0.0 < self.lr_gamma <= 1.0:
            raise ValueError(f"lr_gamma must lie in (0, 1], got {self.lr_gamma}")
        for name in ("data_kwargs", "model_kwargs", "guidance_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict, got {getattr(self, name)!r}")
        clash = sorted(set(self.data_kwargs) & set(OWN_DATA_FIELDS))
        if clash:
            raise ValueError(
                "data_kwargs (--data-kw) may not set " + ", ".join(
                    f"{k} (use {OWN_DATA_FIELDS[k]})" for k in clash))
        if self.skip_missing:
            from ..data import ON_DISK_DATASETS

            if self.data not in ON_DISK_DATASETS:
                raise ValueError(f"--skip-missing applies to {', '.join(ON_DISK_DATASETS)}, "
                                 f"not {self.data!r}")
        fmt = self.data_kwargs.get("format")
        if fmt is not None and self.data_format is not None and fmt != self.data_format:
            raise ValueError(f"--format {self.data_format} and --data-kw format={fmt} disagree")
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
        if not (math.isfinite(self.guidance_weight) and self.guidance_weight >= 0):
            raise ValueError(f"guidance_weight must be >= 0, got {self.guidance_weight}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def settings(self) -> dict[str, Any]:
        """:meth:`to_dict` without :data:`LIFECYCLE_FIELDS`: two configurations with equal
        settings train the same model (e.g. a run and its resumption)."""
        return {k: v for k, v in self.to_dict().items() if k not in LIFECYCLE_FIELDS}

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
        if self.data_format is not None:
            kw["format"] = self.data_format
        if self.data_root is not None:
            kw["root"] = self.data_root
        if self.skip_missing:
            kw["skip_missing"] = True
        return kw
