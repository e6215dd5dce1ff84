"""Training-side silent wrong answers (issue 15, item 4): each row of the tables is one adversarial
input -> the expected error (a regex naming the problem and the flag) or the expected result."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch
from reliability_helpers import tiny_run_config

from reldrop3d.models.checkpoint import read_checkpoint
from reldrop3d.train.guards import TrainingDiverged, finite_or_none
from reldrop3d.train.run import train

# settings refused before anything is trained: (id, TrainConfig overrides, error regex)
CONFIG_CASES = [
    ("lr inf", dict(lr=math.inf), r"^lr must be a finite number > 0, got inf"),
    ("lr nan", dict(lr=math.nan), r"^lr must be a finite number > 0, got nan"),
    ("lr 0", dict(lr=0.0), r"^lr must be a finite number > 0, got 0"),
    ("weight decay inf", dict(weight_decay=math.inf), r"^weight_decay must be a finite number "
                                                      r">= 0, got inf"),
    ("weight decay < 0", dict(weight_decay=-1e-4), r"^weight_decay must be .* >= 0, got -0.0001"),
    ("guidance weight nan", dict(guidance_weight=math.nan), r"^guidance_weight must be >= 0"),
    ("max steps 0", dict(max_steps_per_epoch=0), r"^max_steps_per_epoch must be >= 1 \(leave it "
                                                 r"out for the whole split\), got 0"),
    ("max steps < 0", dict(max_steps_per_epoch=-3), r"^max_steps_per_epoch must be >= 1"),
    ("resume + overwrite", dict(resume="x.ckpt", overwrite=True), r"give one of them"),
]


@pytest.mark.parametrize("name,overrides,error", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_impossible_settings_are_refused(tmp_path, name, overrides, error):
    with pytest.raises(ValueError, match=error):
        tiny_run_config(tmp_path / "run", **overrides)


# settings refused once the data are known, before anything is written:
# (id, TrainConfig overrides, error regex)
DATA_CASES = [
    ("batch larger than the training set", dict(batch_size=100_000),
     r"--batch-size 100000 is larger than the training set \(16 samples of the train split of "
     r"synthetic\); one batch would repeat samples. Use --batch-size <= 16"),
    ("batch larger than the set after the holdout",
     dict(batch_size=16, val_split="holdout", data_kwargs={"num_shapes": 16}),
     r"--batch-size 16 is larger than the training set \(\d+ samples of the train split of "
     r"synthetic minus the validation holdout\)"),
    ("data root for a generated data set", dict(data_root="/data/modelnet40"),
     r"--data-root /data/modelnet40: the data set 'synthetic' is generated, not read from a "
     r"folder; leave --data-root out"),
]


@pytest.mark.parametrize("name,overrides,error", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_settings_that_do_not_fit_the_data_are_refused(tmp_path, name, overrides, error):
    with pytest.raises(ValueError, match=error):
        train(tiny_run_config(tmp_path / "run", **overrides))
    # nothing was written: the corrected command may use the same --out
    assert not any((tmp_path / "run").iterdir())


def test_batch_equal_to_the_training_set_trains(tmp_path):
    result = train(tiny_run_config(tmp_path / "run", batch_size=16))
    assert read_checkpoint(result["last_checkpoint"])["global_step"] == 1  # one batch of all 16


def test_a_diverging_run_stops_with_a_clear_error_and_saves_no_broken_model(tmp_path):
    # Adam's first step moves every weight by ~lr: 1e30 overflows float32 in the next forward
    with pytest.raises(TrainingDiverged,
                       match=r"training diverged at epoch 0, batch \d+ \(global step \d+\): "
                             r"the loss is nan.*lower --lr \(now 1e\+30\).*no checkpoint was "
                             r"written"):
        train(tiny_run_config(tmp_path / "run", lr=1e30, data_kwargs={"num_shapes": {"train": 32, "val": 4}}))
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    assert not (tmp_path / "run" / "train.lock").exists()


def test_divergence_in_a_later_epoch_keeps_the_earlier_checkpoint(tmp_path):
    import lightning as L

    class Poison(L.Callback):  # a parameter turns NaN in the second epoch
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.current_epoch == 1:
                with torch.no_grad():
                    next(pl_module.parameters()).fill_(float("nan"))

    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"epoch 1.*parameter model\.\S+ holds NaN/inf "
                                               r"values.*the last checkpoint, of an earlier "
                                               r"epoch, is .*last.ckpt"):
        train(tiny_run_config(out, epochs=3), callbacks=[Poison()])
    ckpt = read_checkpoint(out / "checkpoints" / "last.ckpt")
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
               if v.is_floating_point())


# (id, value, expected JSON-safe value)
JSON_CASES = [
    ("nan", float("nan"), None),
    ("inf in a dict", {"val_loss": float("inf"), "val_acc": 0.5}, {"val_loss": None, "val_acc": 0.5}),
    ("nested", {"best": {"epoch": 2, "val_loss": -math.inf}, "x": [1.0, math.nan]},
     {"best": {"epoch": 2, "val_loss": None}, "x": [1.0, None]}),
    ("untouched", {"a": "nan", "b": 3, "c": None}, {"a": "nan", "b": 3, "c": None}),
]


@pytest.mark.parametrize("name,value,expected", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_results_are_json_safe(name, value, expected):
    assert finite_or_none(value) == expected
    json.dumps(finite_or_none(value), allow_nan=False)


def test_train_command_prints_valid_json_for_non_finite_metrics(monkeypatch, capsys):
    import reldrop3d.train.run as run
    from reldrop3d.commands import train as train_cmd

    monkeypatch.setattr(run, "train", lambda cfg: {"metrics": {"val_loss": float("nan")},
                                                   "best": None})
    assert train_cmd.run(argparse.Namespace()) == 0
    printed = json.loads(capsys.readouterr().out,
                         parse_constant=lambda c: pytest.fail(f"invalid JSON token {c}"))
    assert printed == {"metrics": {"val_loss": None}, "best": None}


def test_evaluate_refuses_data_root_for_a_synthetic_checkpoint(tmp_path):
    from reldrop3d.commands import evaluate

    result = train(tiny_run_config(tmp_path / "run"))
    args = argparse.Namespace(checkpoint=result["last_checkpoint"], split="test",
                              data_root=str(tmp_path / "elsewhere"), batch_size=8, device="cpu",
                              occlusion=False, out=None, relevance="lrp")
    with pytest.raises(ValueError, match=r"--data-root .*elsewhere: the data set 'synthetic' is "
                                         r"generated, not read from a folder"):
        evaluate.run(args)


TINY = ("--data", "synthetic", "--data-kw", "num_shapes={'train':16,'val':4}", "--val-split", "val",
        "--epochs", "1", "--batch-size", "8", "--num-points", "32", "--no-progress",
        "--accelerator", "cpu", "--augment", "none")

# the same guards through the command line: (argv, the one-line error after "reldrop3d: error: ")
CLI_CASES = [
    (["train", *TINY, "--lr", "inf"], "--lr: lr must be a finite number > 0, got inf"),
    (["train", *TINY, "--lr", "1e30"], "training diverged at epoch 0, batch"),
    (["train", *TINY, "--batch-size", "100000"], "--batch-size 100000 is larger than the "
                                                 "training set (16 samples"),
    (["train", *TINY, "--data-root", "{tmp}/d"], "--data-root {tmp}/d: the data set 'synthetic' "
                                                 "is generated"),
    (["train", *TINY, "--out", "{tmp}/r", "--resume", "{tmp}/r/x.ckpt", "--overwrite"],
     "resume and overwrite exclude each other: --resume continues a run"),
]


@pytest.mark.parametrize("argv,message", CLI_CASES, ids=[" ".join(c[0][-2:]) for c in CLI_CASES])
def test_guards_are_one_line_cli_errors(cli, tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    line = cli(*argv).one_line_error()
    assert line.startswith("reldrop3d: error: " + message.replace("{tmp}", str(tmp_path))), line
