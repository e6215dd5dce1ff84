"""``reldrop3d compare``: input-dropout variants x seeds on point clouds, one table with the
difference of every variant to the baseline, its 95% interval and a verdict (the project's
protocol, docs/fidelity.md).

Every flag is generated from :class:`CompareOptions`; ``--config FILE`` reads the same keys from
YAML (presets: ``configs/compare_cpu_hour.yaml``, ``configs/compare_paper_gpu.yaml``), and any
flag given overrides the file.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..utils.config import ConfigError, option

HELP = ("train baseline / random dropout / RelDrop point / RelDrop region with the same seeds; "
        "accuracy, occlusion AUCs and corruption errors; each variant's difference to the "
        "baseline with a confidence interval and a verdict")

QUICK_POINTS = 256
QUICK_FRACTIONS = (0.0, 0.2, 0.4, 0.6, 0.8)
# TrainConfig keys compare sets per run (a --train-config / --train-kw may not set them)
PER_RUN_KEYS = ("seed", "out", "resume")

_DATA, _PROTO, _ROB, _STATS, _TRAIN = ("data", "protocol", "robustness (ModelNet-C corruptions)",
                                       "statistics", "training (shared by all runs; default: "
                                       "--train-config's value, else reldrop3d train's default)")


@dataclass
class CompareOptions:
    """The options of ``reldrop3d compare`` (flags and ``--config`` keys).

    Training options left unset (None) take the value of ``train_config`` if it has one, else
    the :class:`~reldrop3d.train.config.TrainConfig` default.
    """

    # -- data ----------------------------------------------------------------------------------
    data: str | None = option(None, "data set name (default: synthetic)", group=_DATA)
    data_root: str | None = option(None, "data set folder (default: data/<name>)", group=_DATA)
    data_format: str | None = option(None, "on-disk format, e.g. h5 | normal | off (default: auto)",
                                     flag="--format", group=_DATA)
    data_kwargs: dict[str, Any] = option(
        default_factory=dict, help="extra data-set arguments, e.g. num_shapes=1000",
        flag="--data-kw", group=_DATA, kind="kv")
    num_points: int | None = option(None, f"points per cloud (default: 1024; {QUICK_POINTS} with "
                                    "--quick)", group=_DATA)
    normals: bool | None = option(None, "use xyz + normals as input (default: off)", group=_DATA)
    skip_missing: bool | None = option(None, "ModelNet / ShapeNet: use the shapes present when "
                                       "list files name missing ones (logged per split)",
                                       group=_DATA)
    # -- protocol ------------------------------------------------------------------------------
    seeds: list[int] = option(default_factory=lambda: [0, 1, 2],
                              help="training seeds, the same for every variant (default: 0 1 2)",
                              group=_PROTO)
    variants: list[str] | None = option(
        None, "subset of the variants (default: all of reldrop3d.experiments.compare.VARIANTS)",
        group=_PROTO)
    baseline: str = option("baseline", "the variant the others are compared with", group=_PROTO)
    epochs: int | None = option(None, "training epochs of every run (default: --train-config's, "
                                "else 10)", group=_PROTO)
    quick: bool = option(False, f"small budget for a smoke run: {QUICK_POINTS} points, a small "
                         "synthetic split (330/44/110 shapes), 5 occlusion fractions, no "
                         "robustness; options given still win", group=_PROTO)
    fractions: list[float] | None = option(None, "occlusion fractions removed (default: 0 0.1 "
                                           "... 0.9)", group=_PROTO)
    relevance: str | None = option(None, "relevance method (training and occlusion; default lrp)",
                                   group=_PROTO)
    jobs: int = option(1, "runs trained at the same time, each in its own process (torch threads "
                       "per process: cores // jobs)", group=_PROTO)
    out: str = option("runs/compare", "output folder", group=_PROTO)
    # -- robustness ----------------------------------------------------------------------------
    robustness: bool | None = option(None, "evaluate every run on the ModelNet-C corruptions "
                                     "(mean corruption error, dropout-local error; default: on, "
                                     "off with --quick)", group=_ROB)
    corruptions: list[str] | None = option(None, "subset of the corruptions (default: all seven)",
                                           group=_ROB)
    severities: list[int] | None = option(None, "subset of the severities 1..5 (default: all)",
                                          group=_ROB)
    robustness_points: int = option(1024, "points per clean test cloud before corruption "
                                    "(ModelNet-C: 1024)", group=_ROB)
    cache_dir: str | None = option(None, "cache of the corrupted sets (default: "
                                   "$RELDROP3D_CACHE_DIR or ~/.cache/reldrop3d)", group=_ROB)
    # -- statistics ----------------------------------------------------------------------------
    confidence: float = option(0.95, "coverage of the difference intervals", group=_STATS)
    bootstrap: int = option(2000, "bootstrap replicates over test shapes (single-seed runs)",
                            group=_STATS)
    # -- training ------------------------------------------------------------------------------
    train_config: str | None = option(
        None, "a `reldrop3d train` YAML every run starts from, e.g. "
        "configs/reldrop_paper_modelnet40.yaml (a relative path in a --config file is relative "
        "to that file); the variant then sets augment / mask_mode", group=_TRAIN)
    train_kwargs: dict[str, Any] = option(
        default_factory=dict, help="any other TrainConfig key for every run, e.g. "
        "weight_decay=0 scheduler=constant", flag="--train-kw", group=_TRAIN, kind="kv")
    model: str | None = option(None, "registered model name (default pointnet)", group=_TRAIN)
    model_kwargs: dict[str, Any] = option(default_factory=dict, help="model arguments",
                                          flag="--model-kw", group=_TRAIN, kind="kv")
    alpha: float | None = option(None, "RelDrop randomness", group=_TRAIN)
    beta: float | None = option(None, "RelDrop aggressiveness", group=_TRAIN)
    fill: str | None = option(None, "what dropped points become", group=_TRAIN)
    mask_p: float | None = option(None, "share of each batch that is masked", group=_TRAIN)
    batch_size: int | None = option(None, "batch size", group=_TRAIN)
    lr: float | None = option(None, "learning rate", group=_TRAIN)
    max_steps_per_epoch: int | None = option(None, "stop each epoch after this many steps",
                                             group=_TRAIN)
    accelerator: str | None = option(None, "cpu, gpu or auto (default: cpu)", group=_TRAIN)


# compare option -> TrainConfig field, for the training options passed through when given
_TRAIN_FIELDS = {"data": "data", "data_root": "data_root", "data_format": "data_format",
                 "num_points": "num_points", "normals": "use_normals",
                 "skip_missing": "skip_missing", "relevance": "relevance_method",
                 "model": "model", "alpha": "alpha", "beta": "beta", "fill": "fill",
                 "mask_p": "mask_p", "batch_size": "batch_size", "lr": "lr",
                 "max_steps_per_epoch": "max_steps_per_epoch", "accelerator": "accelerator"}


def add_arguments(p) -> None:
    from ..utils.config import add_dataclass_arguments

    p.add_argument("--config", default=None, metavar="FILE",
                   help="YAML (or JSON) file of compare options, e.g. configs/compare_cpu_hour.yaml "
                        "or configs/compare_paper_gpu.yaml; flags given override its keys")
    add_dataclass_arguments(p, CompareOptions)


def _train_settings(opts: CompareOptions, base: Path) -> dict[str, Any]:
    """The TrainConfig keys shared by every run: --train-config < --train-kw < the options."""
    from ..train.config import TrainConfig
    from ..utils.config import read_config_file

    train: dict[str, Any] = {}
    if opts.train_config:
        path = Path(opts.train_config)
        if not path.is_absolute():
            path = base / path
        train.update(read_config_file(path, TrainConfig))
        where = f"train_config {path}"
    else:
        where = "--train-kw"
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(opts.train_kwargs) - known)
    if unknown:
        raise ConfigError(f"--train-kw / train_kwargs: unknown TrainConfig key(s) {unknown}")
    train.update(opts.train_kwargs)
    clash = [k for k in PER_RUN_KEYS if k in train]
    if clash:
        raise ConfigError(f"{where}: {', '.join(clash)} cannot be shared by all runs (compare sets "
                          "them per run: seed from --seeds, out under --out)")
    for name, key in _TRAIN_FIELDS.items():
        value = getattr(opts, name)
        if value is not None:
            train[key] = value
    if opts.data_kwargs:
        train["data_kwargs"] = {**train.get("data_kwargs", {}), **opts.data_kwargs}
    if opts.model_kwargs:
        train["model_kwargs"] = {**train.get("model_kwargs", {}), **opts.model_kwargs}
    return train


def config_from_args(args):
    """The :class:`CompareConfig` of defaults < ``--config`` file < the flags given."""
    from ..experiments.compare import (
        FRACTIONS,
        QUICK_SYNTHETIC,
        SEVERITIES,
        VARIANTS,
        CompareConfig,
    )
    from ..utils.config import resolve_config

    config_file = getattr(args, "config", None)
    opts = resolve_config(CompareOptions, args, config_file)
    base = Path(config_file).parent if config_file and "train_config" not in vars(args) else Path()
    train = _train_settings(opts, base)
    epochs = opts.epochs if opts.epochs is not None else train.pop("epochs", 10)
    train.pop("epochs", None)
    fractions = tuple(opts.fractions) if opts.fractions else FRACTIONS
    robustness = opts.robustness
    if opts.quick:
        if train.get("data", "synthetic") == "synthetic":
            kw = dict(train.get("data_kwargs", {}))
            for key, value in QUICK_SYNTHETIC.items():
                kw.setdefault(key, value)
            train["data_kwargs"] = kw
        train.setdefault("num_points", QUICK_POINTS)
        if not opts.fractions:
            fractions = QUICK_FRACTIONS
        if robustness is None:
            robustness = False
    return CompareConfig(
        out=opts.out, seeds=tuple(opts.seeds), variants=tuple(opts.variants or VARIANTS),
        epochs=epochs, train=train, fractions=fractions,
        method=train.get("relevance_method", "lrp"), baseline=opts.baseline, jobs=opts.jobs,
        robustness=True if robustness is None else robustness,
        corruptions=tuple(opts.corruptions) if opts.corruptions else None,
        severities=tuple(opts.severities) if opts.severities else SEVERITIES,
        robustness_points=opts.robustness_points, confidence=opts.confidence,
        n_boot=opts.bootstrap, cache_dir=opts.cache_dir,
    )


def run(args) -> int:
    from ..experiments.compare import run_compare

    cfg = config_from_args(args)
    if len(cfg.seeds) < 3:
        how = ("a paired bootstrap over the test shapes (it ignores the training seed's "
               "variation)" if len(cfg.seeds) == 1 else "a t interval with "
               f"{len(cfg.seeds) - 1} degree(s) of freedom (very wide)")
        print(f"warning: {len(cfg.seeds)} seed(s); differences use {how}; use >= 3 seeds",
              file=sys.stderr)
    _, table = run_compare(cfg)
    print(table)
    extra = " corruptions.csv," if cfg.robustness else ""
    print(f"written to {cfg.out}/results.md, results.csv, differences.csv, curves.csv,{extra} "
          f"occlusion_curves.png, metrics.png")
    return 0
