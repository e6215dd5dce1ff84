"""End to end: ``reldrop3d train --data modelnet40 --format normal`` on the shared samples."""

from __future__ import annotations

import json

import pytest

from reldrop3d.cli import main


@pytest.mark.slow
def test_train_cli_on_the_shared_modelnet40_samples(shared_data, tmp_path, capsys):
    root = shared_data / "modelnet40_normal_resampled"
    out = tmp_path / "run"
    rc = main(["train", "--data", "modelnet40", "--data-root", str(root), "--format", "normal",
               "--num-points", "128", "--normals", "--epochs", "1", "--batch-size", "16",
               "--out", str(out), "--no-progress", "--val-split", "test",
               "--data-kw", f"cache_dir={tmp_path / 'c'}"])
    assert rc == 0
    text = capsys.readouterr().out
    result = json.loads(text[text.rindex('{\n  "metrics"'):])
    assert 0 <= result["metrics"]["val_acc"] <= 1
    assert (out / "checkpoints" / "last.ckpt").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == "modelnet40" and config["data_format"] == "normal"
    assert list((tmp_path / "c").rglob("*.npz"))  # the sampled split was cached
