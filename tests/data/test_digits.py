"""scikit-learn's bundled digits as an image data set."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.data import DataError
from reldrop3d.data.digits import digits


def test_splits_disjoint_cover_and_balanced():
    sets = {s: digits(s) for s in ("train", "val", "test")}
    assert sum(len(d) for d in sets.values()) == 1797
    fingerprints = {s: {tuple(d.images[i].flatten().tolist()) for i in range(len(d))}
                    for s, d in sets.items()}
    assert not fingerprints["train"] & fingerprints["test"]
    counts = sets["test"].labels().bincount(minlength=10)
    assert counts.min() >= 30  # stratified: every digit in the test split


def test_sample_interface():
    ds = digits("val")
    s = ds[0]
    assert s["image"].shape == (1, 8, 8) and s["image"].dtype == torch.float32
    assert 0.0 <= s["image"].min() and s["image"].max() <= 1.0
    assert s["label"].dtype == torch.long and 0 <= int(s["label"]) < 10
    assert ds.channel_mean().shape == (1,)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 1, 8, 8)


def test_deterministic_split_and_errors():
    assert torch.equal(digits("train", seed=1).labels(), digits("train", seed=1).labels())
    with pytest.raises(DataError, match="unknown split"):
        digits("holdout")
    with pytest.raises(DataError, match="unsupported"):
        digits("train", num_points=1024)
    with pytest.raises(IndexError):
        digits("val")[10_000]
