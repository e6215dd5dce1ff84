"""Files reldrop3d writes get the mode the user's umask gives (``0o666 & ~umask``), like any
program's; ``tempfile.mkstemp`` alone would leave them ``0o600`` (unreadable by the group even
with umask 002). Rows: umask -> expected mode."""

from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from reldrop3d.utils.io import atomic_path, atomic_write_text, current_umask, remove_stale_tmp

UMASKS = [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600), (0o027, 0o640)]


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, mode", UMASKS, ids=[oct(m) for m, _ in UMASKS])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    atomic_write_text(tmp_path / "config.json", "{}")
    with atomic_path(tmp_path / "best.ckpt") as tmp:
        tmp.write_bytes(b"weights")
    assert _mode(tmp_path / "config.json") == mode
    assert _mode(tmp_path / "best.ckpt") == mode


@pytest.mark.parametrize("mask, mode", UMASKS[:2], ids=[oct(m) for m, _ in UMASKS[:2]])
def test_data_cache_follows_the_umask(tmp_path, umask, mask, mode):
    from reldrop3d.data.cache import load_or_build

    umask(mask)
    path = tmp_path / "cache" / "split.npz"
    load_or_build(path, "fp", lambda: {"points": np.zeros((2, 3), np.float32)})
    assert _mode(path) == mode


def test_a_training_run_writes_config_metrics_and_checkpoints_with_the_umask(tmp_path, umask):
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.run import train

    umask(0o002)  # a shared group project folder
    out = tmp_path / "run"
    train(TrainConfig(data="synthetic", data_kwargs={"num_shapes": {"train": 8, "val": 4,
                                                                    "test": 4}},
                      num_points=64, epochs=1, max_steps_per_epoch=1, batch_size=4,
                      augment="none", accelerator="cpu", progress=False, out=str(out)))
    written = {p.relative_to(out).as_posix(): _mode(p) for p in out.rglob("*") if p.is_file()}
    for name in ("config.json", "checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        assert written.get(name) == 0o664, written
    assert not [n for n in written if n.endswith(".tmp")], written


def test_remove_stale_tmp_removes_old_temporaries_only(tmp_path):
    old = tmp_path / ".last.ckpt.abc123.tmp"
    fresh = tmp_path / ".last.ckpt.def456.tmp"
    keep = tmp_path / "last.ckpt"
    for p in (old, fresh, keep):
        p.write_text("x")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(keep, (an_hour_ago, an_hour_ago))
    assert remove_stale_tmp(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, keep.name])
    assert remove_stale_tmp(tmp_path, older_than_s=0) == [fresh]
    assert remove_stale_tmp(tmp_path / "missing") == []
