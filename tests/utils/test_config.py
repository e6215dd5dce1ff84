"""TrainConfig is the one list of settings: flags and config-file keys come from it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from reldrop3d.commands import train as train_cmd
from reldrop3d.train.config import TrainConfig
from reldrop3d.utils.config import ConfigError, dataclass_flags, read_config_file

REPO = Path(__file__).resolve().parents[2]


def parser():
    p = argparse.ArgumentParser(exit_on_error=False)
    train_cmd.add_arguments(p)
    return p


def resolve(argv):
    return train_cmd.config_from_args(parser().parse_args(argv))


def test_every_field_has_a_flag_and_the_defaults_are_the_dataclass_defaults():
    flags = dataclass_flags(TrainConfig)
    assert set(flags) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert resolve([]) == TrainConfig()
    help_text = parser().format_help()
    for flag in flags.values():
        assert flag in help_text


def test_flags_set_fields():
    cfg = resolve(["--alpha", "0.3", "--normals", "--data-kw", "num_shapes=32", "sampling=fps",
                   "--scheduler", "step", "--no-progress", "--devices", "2", "--format", "normal",
                   "--no-geometric-augment"])
    assert (cfg.alpha, cfg.use_normals, cfg.scheduler, cfg.progress, cfg.devices) == \
        (0.3, True, "step", False, 2)
    assert cfg.data_kwargs == {"num_shapes": 32, "sampling": "fps"}
    assert cfg.geometric_augment == "none"
    assert cfg.dataset_kwargs()["format"] == "normal"


def test_file_keys_and_flag_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("alpha: 0.2\nepochs: 7\nlr: 1\ndata_kwargs: {num_shapes: 16}\n")
    cfg = resolve(["--config", str(f), "--epochs", "3"])
    assert (cfg.alpha, cfg.epochs, cfg.lr) == (0.2, 3, 1.0)  # the flag wins, int -> float
    assert cfg.data_kwargs == {"num_shapes": 16}


@pytest.mark.parametrize("text, message", [
    ("alhpa: 0.2\n", r"unknown key 'alhpa'"),
    ("epochs: ten\n", r"epochs must be int, got 'ten'"),
    ("use_normals: 1\n", r"use_normals must be bool"),
    ("- 1\n- 2\n", r"must hold a mapping"),
    ("a: [\n", r"cannot be parsed"),
    ("alpha: !!python/object/apply:os.system ['touch pwned']\n", r"cannot be parsed"),
])
def test_bad_files_name_file_and_key(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml.*" + message):
        read_config_file(f, TrainConfig)
    assert not (tmp_path / "pwned").exists()


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        resolve(["--config", str(tmp_path / "nope.yaml")])


def test_key_value_flag_without_equals_is_a_usage_error_naming_the_flag():
    with pytest.raises(argparse.ArgumentError, match="--data-kw"):
        parser().parse_args(["--data-kw", "num_shapes"])


def test_data_kw_may_not_shadow_own_fields():
    with pytest.raises(ValueError, match=r"num_points \(use --num-points\)"):
        resolve(["--data-kw", "num_points=64"])


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "seed must be an integer >= 0"),
    (["--max-steps-per-epoch", "0"], "max_steps_per_epoch must be >= 1"),
    (["--val-fraction", "1.5"], "val_fraction"),
    (["--lr-gamma", "0"], "lr_gamma"),
])
def test_impossible_values(argv, message):
    with pytest.raises(ValueError, match=message):
        resolve(argv)


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")
                                        if not p.name.startswith("compare")))
def test_shipped_train_presets_resolve(name):
    cfg = resolve(["--config", str(REPO / "configs" / name)])
    assert cfg == TrainConfig(**read_config_file(REPO / "configs" / name, TrainConfig))


def test_paper_preset_is_the_official_protocol():
    cfg = resolve(["--config", str(REPO / "configs" / "reldrop_paper_modelnet40.yaml")])
    assert (cfg.model, cfg.use_normals, cfg.num_points, cfg.alpha, cfg.beta, cfg.fill) == \
        ("pointnet2_msg", True, 1024, 0.5, 0.5, "zero")
    assert (cfg.augment_order, cfg.geometric_augment, cfg.epochs, cfg.batch_size, cfg.lr) == \
        ("mask-first", "official", 100, 32, 1e-3)
    assert cfg.data_kwargs["sampling"] == "fps_random"
