"""Mixed precision: relevance and RelDrop masks under bf16 autocast (runs on CPU; fp16 needs a GPU)."""

import csv
import json
import re

import pytest
import torch

from reldrop3d.cli import main
from reldrop3d.explain import relevance
from reldrop3d.masking import RelDrop
from reldrop3d.models import create_model


def test_relevance_under_bf16_autocast_follows_float32():
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=11).eval()
    x, y = torch.randn(8, 256, 3), torch.randint(0, 11, (8,))
    r32 = relevance(model, x, y)
    with torch.autocast("cpu", torch.bfloat16):
        r16 = relevance(model, x, y)
    assert torch.isfinite(r16).all()
    corr = torch.stack([torch.corrcoef(torch.stack([a, b.float()]))[0, 1] for a, b in zip(r32, r16)])
    assert corr.min() > 0.95  # bf16 keeps ~3 significant digits; the ranking survives
    masker = RelDrop(alpha=0.0, beta=0.3)  # deterministic: drop the top of the normalised map
    m32 = masker(x, r32)[1]
    m16 = masker(x, r16.float())[1]
    assert (m32 == m16).float().mean() > 0.95


@pytest.mark.slow
def test_cli_training_with_reldrop_in_bf16_mixed(tmp_path, capsys):
    args = ["train", "--data", "synthetic", "--data-kw", "num_shapes={'train':64,'test':32}",
            "--num-points", "128", "--epochs", "2", "--batch-size", "16", "--precision",
            "bf16-mixed", "--accelerator", "cpu", "--no-progress", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    out = capsys.readouterr().out
    metrics = json.loads(re.search(r"^\{\n.*^\}", out, re.S | re.M)[0])["metrics"]
    assert all(v == v for v in metrics.values())  # no NaN
    assert 0.3 < metrics["train_drop_rate"] < 0.8
    # and it learns: the training loss falls over the two epochs (seeds 0/1/2: 2.41 -> 1.82,
    # 2.55 -> 1.96, 2.45 -> 1.82)
    loss = {int(r["epoch"]): float(r["train_loss_epoch"])
            for r in csv.DictReader(open(tmp_path / "r" / "metrics.csv")) if r["train_loss_epoch"]}
    assert loss[1] < loss[0] - 0.3, loss
