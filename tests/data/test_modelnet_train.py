"""End to end: ``reldrop3d train --data modelnet40 --format normal`` on the shared samples."""

from __future__ import annotations

import csv
import json

import pytest

from reldrop3d.cli import main


@pytest.mark.slow
def test_train_cli_on_the_shared_modelnet40_samples(shared_data, tmp_path, capsys):
    root = shared_data / "modelnet40_normal_resampled"
    out = tmp_path / "run"
    rc = main(["train", "--data", "modelnet40", "--data-root", str(root), "--format", "normal",
               "--num-points", "128", "--normals", "--epochs", "3", "--batch-size", "16",
               "--out", str(out), "--no-progress", "--val-split", "test",
               "--data-kw", f"cache_dir={tmp_path / 'c'}"])
    assert rc == 0
    text = capsys.readouterr().out
    result = json.loads(text[text.rindex('{\n  "metrics"'):])
    # 62 shapes of 39 classes cannot teach the classes, but the training set is learnt: the
    # training loss falls over three epochs (seeds 0/1/2: 3.96 -> 3.00, 3.91 -> 2.95, 3.76 -> 2.92)
    loss = {int(r["epoch"]): float(r["train_loss_epoch"])
            for r in csv.DictReader(open(out / "metrics.csv")) if r["train_loss_epoch"]}
    assert sorted(loss) == [0, 1, 2] and loss[2] < loss[0] - 0.4, loss
    # the number reported is the number of the checkpoint: last.ckpt evaluated on the split it
    # was validated on gives the logged val_acc of the last epoch
    last = out / "checkpoints" / "last.ckpt"
    assert main(["evaluate", str(last), "--split", "test"]) == 0
    text = capsys.readouterr().out
    evaluated = float(text.split("overall accuracy:")[1].split()[0])
    assert result["last"]["epoch"] == 2
    assert evaluated == pytest.approx(result["last"]["val_acc"], abs=1e-4)
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == "modelnet40" and config["data_format"] == "normal"
    assert list((tmp_path / "c").rglob("*.npz"))  # the sampled split was cached
