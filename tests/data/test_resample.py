"""Reducing clouds of any size to N points: first, random, batched FPS, padding, too few points."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reldrop3d.data import DataError
from reldrop3d.data.resample import pad_clouds, select_points
from reldrop3d.ops import farthest_point_sample


@pytest.fixture
def clouds():
    rng = np.random.default_rng(0)
    return [np.concatenate([rng.normal(size=(r, 3)), np.full((r, 1), i)], 1).astype(np.float32)
            for i, r in enumerate([50, 80, 64, 120])]


def test_first_and_random(clouds):
    out = select_points(clouds, 40, "first")
    assert out.shape == (4, 40, 4) and out.dtype == np.float32
    for c, o in zip(clouds, out):
        np.testing.assert_array_equal(o, c[:40])
    rnd = select_points(clouds, 40, "random", seed=3)
    again = select_points(clouds[2:], 40, "random", seed=3, indices=[2, 3])
    np.testing.assert_array_equal(rnd[2:], again)  # per-shape streams: chunking does not matter
    for c, o in zip(clouds, rnd):
        assert len({tuple(r) for r in o}) == 40 and {tuple(r) for r in o} <= {tuple(r) for r in c}
    assert not np.array_equal(rnd, select_points(clouds, 40, "random", seed=4))


def test_fps_of_padded_batches_equals_fps_of_each_cloud(clouds):
    out = select_points(clouds, 48, "fps")
    for c, o in zip(clouds, out):
        idx = farthest_point_sample(torch.from_numpy(c[None, :, :3]), 48)[0].numpy()
        np.testing.assert_array_equal(o, c[idx])
        assert (o[:, 3] == c[0, 3]).all()  # extra columns travel with their points


def test_padding_repeats_the_first_point(clouds):
    padded = pad_clouds([c[:, :3] for c in clouds])
    assert padded.shape == (4, 120, 3)
    np.testing.assert_array_equal(padded[0, 50:], np.repeat(clouds[0][:1, :3], 70, 0))


@pytest.mark.parametrize("sampling", ["first", "random", "fps"])
def test_too_few_points(clouds, sampling):
    with pytest.raises(DataError, match="a.txt: has 50 points, fewer than num_points=100"):
        select_points(clouds, 100, sampling, paths=["a.txt", "b", "c", "d"])
    out = select_points(clouds, 100, sampling, allow_fewer=True)
    assert {tuple(r) for r in out[0]} == {tuple(r) for r in clouds[0]}  # all kept, some twice
    with pytest.raises(DataError, match="has no points"):
        select_points([np.zeros((0, 3), np.float32)], 5, sampling, allow_fewer=True)


def test_bad_arguments(clouds):
    with pytest.raises(ValueError, match="sampling must be one of"):
        select_points(clouds, 10, "poisson")
    with pytest.raises(ValueError, match="num_points"):
        select_points(clouds, 0, "first")
    with pytest.raises(ValueError, match="no clouds"):
        select_points([], 10, "first")


@pytest.mark.gpu
def test_fps_on_the_gpu_matches_the_cpu(clouds):
    cpu = select_points(clouds, 48, "fps", fps_device="cpu")
    gpu = select_points(clouds, 48, "fps", fps_device="cuda")
    np.testing.assert_array_equal(cpu, gpu)
