"""gather_points, group_points, knn_interpolate; backend selection and memory budget."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.ops import (
    gather_points,
    get_memory_budget,
    group_points,
    knn_interpolate,
    resolve_backend,
    set_memory_budget,
)
from reldrop3d.ops.backend import query_chunk_size


def test_gather_points_shapes_and_gradient():
    x = torch.randn(2, 10, 4, requires_grad=True)
    idx = torch.tensor([[[0, 1], [9, 9]], [[3, 3], [2, 0]]])
    out = gather_points(x, idx)
    assert out.shape == (2, 2, 2, 4)
    assert torch.equal(out[1, 1, 0], x[1, 2])
    out.sum().backward()
    assert x.grad[0, 9].eq(2).all() and x.grad[0, 5].eq(0).all()
    assert gather_points(x, idx[:, 0]).shape == (2, 2, 4)


@pytest.mark.parametrize(
    "x,idx,err",
    [
        (torch.rand(2, 10), torch.zeros(2, 3, dtype=torch.long), ValueError),
        (torch.rand(2, 10, 3), torch.zeros(3, 3, dtype=torch.long), ValueError),
        (torch.rand(2, 10, 3), torch.zeros(2, 3, dtype=torch.int32), TypeError),
    ],
)
def test_gather_points_bad_input(x, idx, err):
    with pytest.raises(err):
        gather_points(x, idx)


def test_group_points_relative_coordinates():
    xyz = torch.rand(2, 20, 3)
    feats = torch.rand(2, 20, 5)
    centroids = xyz[:, :4]
    idx = torch.randint(20, (2, 4, 6))
    out = group_points(xyz, centroids, idx, feats)
    assert out.shape == (2, 4, 6, 8)
    torch.testing.assert_close(out[1, 2, 3, :3], xyz[1, idx[1, 2, 3]] - centroids[1, 2])
    torch.testing.assert_close(out[1, 2, 3, 3:], feats[1, idx[1, 2, 3]])
    assert group_points(xyz, centroids, idx).shape == (2, 4, 6, 3)
    assert group_points(xyz, centroids, idx, feats, use_xyz=False).shape == (2, 4, 6, 5)
    with pytest.raises(ValueError):
        group_points(xyz, centroids, idx, use_xyz=False)


def test_knn_interpolate(backend):
    src = torch.rand(2, 30, 3)
    f = torch.randn(2, 30, 4, requires_grad=True)
    dst = torch.cat([src[:, :5], torch.rand(2, 40, 3)], dim=1)
    out = knn_interpolate(dst, src, f, k=3, backend=backend)
    assert out.shape == (2, 45, 4)
    torch.testing.assert_close(out[:, :5], f[:, :5].detach(), rtol=1e-4, atol=1e-4)  # on a source
    # constant features interpolate to the constant (weights sum to one)
    const = knn_interpolate(dst, src, torch.ones(2, 30, 1), backend=backend)
    torch.testing.assert_close(const, torch.ones(2, 45, 1))
    out.sum().backward()
    assert f.grad is not None


def test_resolve_backend_and_budget():
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("auto") in ("torch", "cluster")
    with pytest.raises(ValueError):
        resolve_backend("gpu")
    old = set_memory_budget(1024)
    try:
        assert get_memory_budget() == 1024
        assert query_chunk_size(2, 100, 16, bytes_per_pair=4) == 8
        assert query_chunk_size(2, 100, 10_000) == 1
    finally:
        set_memory_budget(old)
    with pytest.raises(ValueError):
        set_memory_budget(0)
