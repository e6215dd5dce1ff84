import csv

import pytest
import torch

from reldrop3d.cli import main
from reldrop3d.masking import RandomPointDropout
from reldrop3d.models.checkpoint import load_model, read_checkpoint
from reldrop3d.train.config import TrainConfig
from reldrop3d.train.input_dropout import InputDropout
from reldrop3d.train.run import build_datasets, build_task, train


def tiny_config(tmp_path, **kw):
    base = dict(
        data="synthetic",
        data_kwargs={"num_shapes": 64},
        num_points=128,
        epochs=1,
        batch_size=16,
        out=str(tmp_path / "run"),
        progress=False,
        accelerator="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def test_reldrop_training_step_updates_batchnorm_and_trains_in_train_mode(tmp_path):
    cfg = tiny_config(tmp_path)
    train_set, _ = build_datasets(cfg)
    task = build_task(cfg, train_set)
    modes = []
    task.model.register_forward_pre_hook(lambda m, a: modes.append(m.training))
    bn = task.model.encoder.mlp1[0][1]
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    batch = torch.utils.data.default_collate([train_set[i] for i in range(16)])
    task.train()
    loss = task.training_step(batch, 0)
    assert torch.isfinite(loss)
    # relevance pass in eval mode, then the training pass in train mode
    assert modes == [False, True]
    assert task.model.training
    assert bn.num_batches_tracked == before[1] + 1  # exactly one BN update: the training pass
    assert not torch.equal(bn.running_mean, before[0])


def test_input_dropout_kinds():
    model = torch.nn.Identity()
    x = torch.randn(2, 32, 3)
    out, mask = InputDropout()(model, x, torch.zeros(2, dtype=torch.long))
    assert out is x and mask is None
    out, mask = InputDropout(RandomPointDropout())(model, x, torch.zeros(2, dtype=torch.long))
    assert out.shape == x.shape and mask.shape == (2, 32) and mask.any()
    with pytest.raises(TypeError, match="Masker"):
        InputDropout("random")


@pytest.mark.parametrize("kwargs,match", [
    (dict(augment="cutout"), "augment"),
    (dict(alpha=1.5), "alpha"),
    (dict(epochs=0), "epochs"),
    (dict(task="det"), "task"),
])
def test_config_rejects_impossible_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def epoch_column(metrics_csv, key):
    """``{epoch: value}`` of an epoch-level metric in a run's metrics.csv."""
    return {int(r["epoch"]): float(r[key]) for r in csv.DictReader(open(metrics_csv)) if r.get(key)}


def reported_accuracy(text):
    return float(text.split("overall accuracy:")[1].split()[0])


def test_train_checkpoint_resume_and_evaluate(tmp_path, capsys):
    cfg = tiny_config(tmp_path)
    result = train(cfg)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert last.is_file() and (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()

    model, meta = load_model(last)
    assert meta["model"] == "pointnet" and meta["dataset"] == "synthetic"
    assert len(meta["classes"]) == model.head[-1].out_features
    steps_first = read_checkpoint(last)["global_step"]
    assert steps_first == 4  # 64 shapes / batch 16

    resumed = tiny_config(tmp_path, epochs=2, resume=str(last))
    result = train(resumed)
    assert read_checkpoint(last)["global_step"] == 2 * steps_first  # continued, not restarted
    # learning happened across the resume: the training loss of epoch 1 is well below epoch 0's
    # (chance is ln 11 = 2.40; seeds 0/1/2 fall by 0.56/0.68/0.68 over the two epochs)
    loss = epoch_column(tmp_path / "run" / "metrics.csv", "train_loss_epoch")
    assert sorted(loss) == [0, 1], loss
    assert loss[1] < loss[0] - 0.3, loss

    # the number reported is the number of the checkpoint: evaluating last.ckpt on the
    # validation split gives the val_acc logged for its epoch
    capsys.readouterr()
    assert main(["evaluate", str(last), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "overall accuracy" in out and "mean class accuracy" in out
    assert reported_accuracy(out) == pytest.approx(result["last"]["val_acc"], abs=1e-4)
    assert result["last"]["epoch"] == 1


def test_last_checkpoint_is_the_last_epoch_even_without_a_new_best(tmp_path):
    # lr ~ 0: the validation accuracy cannot improve after epoch 0, so no later best checkpoint
    # (Lightning's own save_last would then keep epoch 0 as "last")
    result = train(tiny_config(tmp_path, epochs=3, lr=1e-12, augment="none"))
    last = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert (last["epoch"], last["global_step"]) == (2, 12)
    assert result["last_checkpoint"].endswith("last.ckpt")
    assert read_checkpoint(result["best_checkpoint"])["global_step"] <= 12


def test_corrupt_or_missing_checkpoint_is_reported(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.ckpt"):
        load_model(bad)
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        load_model(tmp_path / "nope.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not a reldrop3d checkpoint"):
        load_model(tmp_path / "foreign.ckpt")


# dropped share of the training points: none; PointNet++'s ratio ~ U(0, 0.875) per sample
# (mean 0.44; seeds 0/1/2: 0.41-0.47); the rule at alpha = beta = 0.5 (seeds 0/1/2: 0.45-0.51)
@pytest.mark.parametrize("augment,rate", [("none", None), ("random", (0.25, 0.65)),
                                          ("reldrop", (0.3, 0.7))])
def test_cli_train_every_augment(tmp_path, augment, rate, capsys):
    rc = main([
        "train", "--data", "synthetic", "--data-kw", "num_shapes=32", "--num-points", "64",
        "--epochs", "1", "--batch-size", "16", "--augment", augment, "--no-progress",
        "--accelerator", "cpu", "--out", str(tmp_path / augment),
    ])
    assert rc == 0
    assert (tmp_path / augment / "checkpoints" / "last.ckpt").is_file()
    drop = epoch_column(tmp_path / augment / "metrics.csv", "train_drop_rate")
    if rate is None:
        assert not drop  # nothing is masked
    else:
        assert rate[0] < drop[0] < rate[1], drop
