"""``reldrop3d compare``: protocol configuration, summary table, outputs, and a tiny end-to-end run;
plus the image training loop on scikit-learn's digits (the 2D adapter, end to end)."""

from __future__ import annotations

import argparse
import csv
import json

import pytest
import torch

from reldrop3d.commands import compare as compare_cmd
from reldrop3d.experiments.compare import (
    METRICS,
    VARIANTS,
    CompareConfig,
    markdown_table,
    mean_std,
    run_compare,
    summarize,
    train_config,
    write_outputs,
)


def fake_results(seeds=(0, 1, 2), fractions=(0.0, 0.5)):
    out = {}
    for i, v in enumerate(VARIANTS):
        out[v] = {}
        for s in seeds:
            r = {m: 0.5 + 0.1 * i + 0.01 * s for m in METRICS}
            r["curves"] = {o: [0.9, 0.5 - 0.01 * s] for o in ("most", "least", "random")}
            out[v][s] = r
    return out


def test_mean_std_and_table():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([4.0]) == (4.0, 0.0)
    summary = summarize(fake_results())
    assert summary["baseline"]["accuracy"] == pytest.approx((0.51, 0.01))
    table = markdown_table(summary, (0, 1, 2))
    assert "| reldrop_region | 0.810 ± 0.010 |" in table
    assert "3 seeds" in table


def test_write_outputs(tmp_path):
    cfg = CompareConfig(out=str(tmp_path), fractions=(0.0, 0.5))
    table = write_outputs(cfg, fake_results())
    assert (tmp_path / "results.md").read_text().endswith(table)
    rows = list(csv.reader(open(tmp_path / "results.csv")))
    assert rows[0] == ["variant", "seed", *METRICS] and len(rows) == 1 + 4 * 3
    assert len(list(csv.reader(open(tmp_path / "curves.csv")))) == 1 + 4 * 3 * 3
    for png in ("occlusion_curves.png", "metrics.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_train_config_same_seed_per_variant(tmp_path):
    cfg = CompareConfig(out=str(tmp_path), epochs=2, train={"model": "pointnet", "beta": 0.3})
    configs = {v: train_config(cfg, v, 7) for v in VARIANTS}
    assert {c.seed for c in configs.values()} == {7}
    assert configs["baseline"].augment == "none" and configs["random"].augment == "random"
    assert configs["reldrop_region"].mask_mode == "region"
    assert configs["reldrop_point"].beta == 0.3
    assert len({c.out for c in configs.values()}) == 4


def test_bad_config():
    with pytest.raises(ValueError, match="unknown variants"):
        CompareConfig(variants=("nope",))
    with pytest.raises(ValueError, match="distinct"):
        CompareConfig(seeds=(1, 1))
    with pytest.raises(ValueError, match="fractions"):
        CompareConfig(fractions=(0.0, 1.0))


def parse(argv):
    p = argparse.ArgumentParser()
    compare_cmd.add_arguments(p)
    return p.parse_args(argv)


def test_cli_quick_defaults():
    cfg = compare_cmd.config_from_args(parse(["--quick", "--epochs", "2", "--out", "x"]))
    assert cfg.train["num_points"] == 256 and cfg.epochs == 2 and cfg.seeds == (0, 1, 2)
    assert cfg.train["data_kwargs"]["num_shapes"]["train"] == 330
    assert cfg.fractions == (0.0, 0.2, 0.4, 0.6, 0.8)
    cfg = compare_cmd.config_from_args(parse(["--quick", "--num-points", "128", "--fractions",
                                              "0", "0.5"]))
    assert cfg.train["num_points"] == 128 and cfg.fractions == (0.0, 0.5)


def epoch_metric(run, key):
    """``{epoch: value}`` of an epoch-level metric in a training run's metrics.csv."""
    rows = csv.DictReader(open(run / "metrics.csv"))
    return {int(r["epoch"]): float(r[key]) for r in rows if r.get(key)}


@pytest.mark.slow
def test_tiny_end_to_end_and_reuse(tmp_path):
    train = dict(num_points=64, batch_size=8, max_steps_per_epoch=2,
                 data_kwargs={"num_shapes": {"train": 22, "val": 11, "test": 22}})
    cfg = CompareConfig(out=str(tmp_path), seeds=(0, 1), variants=("baseline", "reldrop_region"),
                        epochs=2, train=train, fractions=(0.0, 0.5))
    results, table = run_compare(cfg, log=lambda *_: None)
    for v in cfg.variants:
        for s in cfg.seeds:
            r, run = results[v][s], tmp_path / "runs" / v / f"seed{s}"
            assert set(r["curves"]) == {"most", "least", "random"}
            # every occlusion curve starts at the clean accuracy (two code paths, one number)
            assert all(c[0] == pytest.approx(r["accuracy"]) for c in r["curves"].values())
            stored = json.loads((run / "eval.json").read_text())
            assert stored["result"]["accuracy"] == r["accuracy"]
            drop = epoch_metric(run, "train_drop_rate")
            if v == "baseline":
                # learning happened (4 steps: too few to leave chance on the test split, enough
                # for the training loss; seeds 0/1/2 fall by 0.41/0.78/0.46)
                loss = epoch_metric(run, "train_loss_epoch")
                assert loss[1] < loss[0] - 0.2, loss
                assert not drop  # the baseline masks nothing
            else:  # the variant really masks: region RelDrop drops a share of every batch
                assert sorted(drop) == [0, 1] and min(drop.values()) > 0.05, drop
    assert "reldrop_region" in table
    logs = []
    again, _ = run_compare(cfg, log=logs.append)  # finished runs are reused, not retrained
    assert all("reusing" in line for line in logs) and again == results
