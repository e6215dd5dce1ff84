"""Two-process DDP training on CPU (gloo): same updates and same metrics as one process."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reldrop3d.data import create_dataset
from reldrop3d.eval.classification import evaluate_classifier
from reldrop3d.models.checkpoint import load_model

REPO = Path(__file__).resolve().parents[2]
DATA = ["--data", "synthetic", "--data-kw", "num_shapes={'train':64,'test':27}",
        "--num-points", "64"]


def train_cli(tmp_path, name, *args, nproc=1):
    """Run ``reldrop3d train`` (under torchrun with ``nproc`` > 1); per-rank result dicts."""
    out = tmp_path / name
    launch = [sys.executable, "-m"]
    if nproc > 1:
        launch += ["torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "--log-dir", str(tmp_path / f"{name}_logs"), "--redirects", "3", "-m"]
        args = (*args, "--strategy", "ddp", "--devices", str(nproc))
    cmd = [*launch, "reldrop3d", "train", *DATA, *args, "--accelerator", "cpu", "--no-progress",
           "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if nproc == 1:
        texts = [proc.stdout]
    else:  # one stdout file per rank (interleaved output would not parse)
        texts = [f.read_text() for f in sorted((tmp_path / f"{name}_logs").rglob("stdout.log"))]
    assert len(texts) == nproc
    return [json.loads(re.search(r"^\{\n.*^\}", t, re.S | re.M)[0]) for t in texts], out


@pytest.mark.slow
def test_ddp_makes_the_same_updates_and_reports_exact_metrics(tmp_path):
    # Deterministic training (no dropout layer, no augmentation, no input dropout): DDP with 2 x 8
    # must make the same optimiser steps as one process with batch 8 and 2 accumulation steps
    # (batch-norm statistics are per 8 samples in both). Only BN running statistics differ.
    common = ["--epochs", "2", "--batch-size", "8", "--augment", "none", "--no-geometric-augment",
              "--val-split", "test",
              "--model-kw", "dropout=0"]
    (ddp, ddp1), out_ddp = train_cli(tmp_path, "ddp", *common, nproc=2)
    (one,), out_one = train_cli(tmp_path, "one", *common, "--accumulate-grad-batches", "2")
    m_ddp, _ = load_model(out_ddp / "checkpoints" / "last.ckpt")
    m_one, _ = load_model(out_one / "checkpoints" / "last.ckpt")
    params_one = dict(m_one.named_parameters())
    for name, p in m_ddp.named_parameters():
        torch.testing.assert_close(p, params_one[name], rtol=1e-4, atol=1e-5, msg=name)
    # logged training losses are means over both ranks = over both micro-batches
    assert ddp["metrics"]["train_loss_epoch"] == pytest.approx(one["metrics"]["train_loss_epoch"],
                                                               rel=1e-5)
    # metrics are synchronised over ranks and cover the validation set once (no padding): the
    # same as evaluating the saved model in one process
    assert ddp["metrics"] == ddp1["metrics"]
    val = create_dataset("synthetic", "test", num_points=64, num_shapes={"train": 64, "test": 27})
    ref = evaluate_classifier(m_ddp, val, batch_size=8)
    assert ddp["metrics"]["val_acc"] == pytest.approx(ref["accuracy"], abs=1e-6)
    assert ddp["metrics"]["val_macc"] == pytest.approx(ref["mean_class_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_torchrun_two_processes_with_reldrop(tmp_path):
    results, out = train_cli(tmp_path, "reldrop", "--epochs", "1", "--batch-size", "8", nproc=2)
    assert results[0]["metrics"]["val_acc"] == results[1]["metrics"]["val_acc"]
    assert 0.3 < results[0]["metrics"]["train_drop_rate"] < 0.8  # RelDrop masked (mean of ranks)
    model, meta = load_model(out / "checkpoints" / "last.ckpt")
    assert meta["config"]["strategy"] == "ddp"


@pytest.mark.slow
def test_torchrun_relevance_reuse_shares_maps_across_ranks(tmp_path):
    # --relevance-every 2 on 2 ranks: epoch 0 computes every map, epoch 1 is served entirely from
    # the cache although the sampler deals every sample to another rank (maps are all-gathered)
    results, out = train_cli(tmp_path, "reuse", "--epochs", "2", "--batch-size", "8",
                             "--relevance-every", "2", nproc=2)
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    share = {int(r["epoch"]): float(r["train_relevance_cached"]) for r in rows
             if r.get("train_relevance_cached")}
    assert share == {0: 0.0, 1: 1.0}


@pytest.mark.slow
def test_a_nan_loss_on_one_rank_stops_every_rank(tmp_path):
    # only rank 1 sees a NaN loss (its parameters stay finite): both ranks must stop at that step
    # with TrainingDiverged; before, rank 0 went on into its next all-reduce and waited there
    # (until the process group's timeout, or until torchrun killed it)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "--log-dir", str(tmp_path / "logs"), "--redirects", "3",
           str(Path(__file__).with_name("ddp_nan_worker.py")), str(tmp_path / "run")]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode != 0
    texts = {int(re.search(r"rank (\d) diverged", t)[1]): t
             for f in (tmp_path / "logs").rglob("stdout.log")
             if re.search(r"rank (\d) diverged", t := f.read_text())}
    assert sorted(texts) == [0, 1], proc.stderr[-3000:]
    assert re.search(r"rank 1 diverged: training diverged at epoch 0, batch 2 .*the loss is nan",
                     texts[1])
    assert re.search(r"rank 0 diverged: training diverged at epoch 0, batch 2 .*not finite on "
                     r"another process", texts[0])
