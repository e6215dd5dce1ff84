"""Two-process DDP training on CPU (gloo), RelDrop included."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reldrop3d.train.checkpoint import load_model

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_processes_with_reldrop(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "--log-dir", str(tmp_path / "logs"), "--redirects", "3",  # one stdout file per rank
        "-m", "reldrop3d", "train", "--data", "synthetic",
        "--data-kw", "num_shapes={'train':64,'test':32}", "--num-points", "64",
        "--epochs", "1", "--batch-size", "8", "--strategy", "ddp", "--devices", "2",
        "--accelerator", "cpu", "--no-progress", "--out", str(out),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every rank prints its result; metrics are all-reduced, so they agree
    logs = sorted((tmp_path / "logs").rglob("stdout.log"))
    assert len(logs) == 2
    results = [json.loads(re.search(r"^\{\n.*^\}", f.read_text(), re.S | re.M)[0]) for f in logs]
    assert results[0]["metrics"]["val_acc"] == results[1]["metrics"]["val_acc"]
    assert 0.3 < results[0]["metrics"]["train_drop_rate"] < 0.8  # RelDrop masked on both ranks
    model, meta = load_model(out / "checkpoints" / "last.ckpt")
    assert meta["config"]["strategy"] == "ddp"
