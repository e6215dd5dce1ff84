"""The blocked (k-d leaf pruning) k-NN search is exact: it equals brute force on hard inputs."""

from __future__ import annotations

import sys

import pytest
import torch

from reldrop3d.ops import ball_query, knn
from reldrop3d.ops.knn import squared_distance
from reldrop3d.ops.knn_blocked import knn_blocked


def brute_dist2(query, points, k, exclude_self=False):
    d = torch.cdist(query.double(), points.double()).square()
    if exclude_self:
        d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return d.topk(k, dim=-1, largest=False).values


def clouds(kind: str, b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, 3, generator=g)
    if kind == "sphere":
        return x / x.norm(dim=-1, keepdim=True)
    if kind == "clusters+outliers":  # dense blobs, a few far points: very uneven leaves
        x = x * 0.01 + torch.randint(0, 4, (b, n, 1), generator=g).float()
        x[:, :7] *= 50
        return x
    if kind == "duplicates":  # many identical points (zero-size boxes, ties)
        x[:, 100:400] = x[:, :1]
        return x
    if kind == "flat":  # a plane: zero extent along one axis
        x[..., 2] = 0.5
        return x
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["sphere", "clusters+outliers", "duplicates", "flat"])
@pytest.mark.parametrize("n, m, k, exclude_self", [
    (1024, None, 20, False), (1000, None, 16, True), (777, 333, 5, False), (600, 50, 64, False),
    (513, None, 512, True),  # k = N - 1: every block is searched
])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_blocked_equals_brute_force(kind, n, m, k, exclude_self, dtype):
    # float64: the pruning is exact (no rounding can hide a neighbour); float32: the expanded
    # distances round (less than brute force's: coordinates are relative to each query block)
    pts = clouds(kind, 3, n).to(dtype)
    query = pts if m is None else clouds("sphere", 3, m, seed=1).to(dtype) * 2
    idx = knn_blocked(query, pts, k, exclude_self)
    assert idx.shape == (3, query.shape[1], k)
    assert bool((idx.sort(-1).values.diff(dim=-1) > 0).all())  # no index twice
    if exclude_self:
        assert not bool((idx == torch.arange(n).view(1, n, 1)).any())
    got = squared_distance(query.double(), pts.double(), idx).sort(-1).values
    ref = brute_dist2(query, pts, k, exclude_self)
    if dtype == torch.float64:
        torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-12)
    else:
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_memory_budget_only_changes_the_chunking():
    pts = clouds("clusters+outliers", 2, 2000, seed=3)
    full = knn_blocked(pts, pts, 12)
    tiny = knn_blocked(pts, pts, 12, budget=1)  # one query block per chunk
    torch.testing.assert_close(squared_distance(pts, pts, tiny).sort(-1).values,
                               squared_distance(pts, pts, full).sort(-1).values)


def test_knn_uses_the_blocked_search_on_cpu_for_3d_clouds(monkeypatch):
    calls = []
    knn_module = sys.modules["reldrop3d.ops.knn"]

    real = knn_module.knn_blocked
    monkeypatch.setattr(knn_module, "knn_blocked", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    pts = clouds("sphere", 2, 1024)
    knn(pts, pts, 8, backend="torch")
    assert calls == [1]
    knn(pts[:, :100], pts[:, :100], 8, backend="torch")  # small cloud: brute force
    knn(torch.randn(2, 1024, 8), torch.randn(2, 1024, 8), 8, backend="torch")  # 8-d features
    assert calls == [1]


@pytest.mark.parametrize("kind", ["sphere", "clusters+outliers", "duplicates", "flat"])
@pytest.mark.parametrize("order", ["first", "nearest"])
@pytest.mark.parametrize("n, m, radius, k", [
    (1024, 256, 0.2, 32), (1000, 77, 0.05, 16), (700, 700, 1.5, 64), (600, 50, 30.0, 600),
])
def test_blocked_ball_query_equals_brute_force(kind, order, n, m, radius, k):
    pts = clouds(kind, 2, n)
    query = pts[:, :m].clone()
    query[:, ::3] += 0.01  # some queries off the points
    blocked = ball_query(query, pts, radius, k, order=order, backend="torch")
    brute = ball_query(query, pts, radius, k, order=order, backend="torch", chunk_size=m)
    assert torch.equal(blocked[1], brute[1])  # counts
    if order == "first":
        assert torch.equal(blocked[0], brute[0])
    else:  # points equidistant up to rounding may swap: compare the distances of valid slots
        valid = torch.arange(k) < brute[1].unsqueeze(-1)
        d_blocked = squared_distance(query, pts, blocked[0]).masked_fill(~valid, 0)
        d_brute = squared_distance(query, pts, brute[0]).masked_fill(~valid, 0)
        torch.testing.assert_close(d_blocked, d_brute, rtol=1e-6, atol=0)
