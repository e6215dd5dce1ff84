"""k-NN: brute-force reference, backend agreement, chunking, exclude_self, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reldrop3d.ops import has_torch_cluster, knn, set_memory_budget

needs_cluster = pytest.mark.skipif(not has_torch_cluster(), reason="torch-cluster not installed")


def _brute(query, points, k, exclude_self=False):
    d = torch.cdist(query.double(), points.double()).square()
    if exclude_self:
        d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return d.topk(k, dim=-1, largest=False).values


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("dim", [3, 16])
def test_matches_brute_force(backend, exclude_self, dim):
    g = torch.Generator().manual_seed(dim)
    pts = torch.randn(3, 300, dim, generator=g)
    query = pts if exclude_self else torch.randn(3, 77, dim, generator=g)
    idx, d2 = knn(query, pts, 10, exclude_self=exclude_self, backend=backend)
    assert idx.shape == d2.shape == (3, query.shape[1], 10)
    torch.testing.assert_close(d2.double(), _brute(query, pts, 10, exclude_self),
                               rtol=1e-5, atol=1e-5)
    assert bool((d2[..., 1:] >= d2[..., :-1]).all())  # sorted, nearest first
    if exclude_self:
        own = torch.arange(300).view(1, 300, 1)
        assert not bool((idx == own).any())
    else:
        # the distances really are those of the returned indices
        nb = torch.gather(pts, 1, idx.reshape(3, -1, 1).expand(-1, -1, dim)).view(*idx.shape, dim)
        torch.testing.assert_close((nb - query.unsqueeze(2)).square().sum(-1), d2)


@needs_cluster
@pytest.mark.parametrize("exclude_self", [False, True])
def test_backends_agree(exclude_self):
    pts = torch.rand(4, 513, 3, generator=torch.Generator().manual_seed(5)) * 4 - 1
    a = knn(pts, pts, 16, exclude_self=exclude_self, backend="torch")
    c = knn(pts, pts, 16, exclude_self=exclude_self, backend="cluster")
    torch.testing.assert_close(a[1], c[1], rtol=0, atol=0)
    assert (a[0] == c[0]).float().mean() > 0.999  # only ties may differ


@pytest.mark.parametrize("exclude_self", [False, True])
def test_chunked_equals_unchunked(exclude_self):
    pts = torch.randn(2, 200, 3, generator=torch.Generator().manual_seed(2))
    full = knn(pts, pts, 8, exclude_self=exclude_self, backend="torch", chunk_size=200)
    for chunk in (1, 7, 64):
        part = knn(pts, pts, 8, exclude_self=exclude_self, backend="torch", chunk_size=chunk)
        assert torch.equal(full[0], part[0]) and torch.equal(full[1], part[1])
    old = set_memory_budget(1)  # the budget alone forces one query per block
    try:
        tiny = knn(pts, pts, 8, exclude_self=exclude_self, backend="torch")
    finally:
        set_memory_budget(old)
    assert torch.equal(full[0], tiny[0])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(1, 40), k=st.integers(1, 40), seed=st.integers(0, 999))
def test_property_kth_distance_bounds_the_rest(n, m, k, seed):
    k = min(k, n)
    g = torch.Generator().manual_seed(seed)
    pts, query = torch.rand(2, n, 3, generator=g), torch.rand(2, m, 3, generator=g)
    idx, d2 = knn(query, pts, k, backend="torch")
    all_d = (query.unsqueeze(2) - pts.unsqueeze(1)).square().sum(-1)  # (2, m, n)
    outside = all_d.scatter(-1, idx, float("inf"))
    assert bool((outside.amin(-1) >= d2[..., -1] - 1e-6).all())
    assert bool((idx.sort(-1).values.diff(dim=-1) > 0).all())  # no index twice


def test_distances_carry_gradient_indices_do_not():
    pts = torch.randn(1, 20, 3, requires_grad=True)
    q = torch.randn(1, 4, 3, requires_grad=True)
    idx, d2 = knn(q, pts, 3, backend="torch")
    d2.sum().backward()
    assert pts.grad is not None and q.grad is not None and not idx.requires_grad


@pytest.mark.parametrize(
    "args,kwargs,err",
    [
        ((torch.rand(2, 5, 3), torch.rand(2, 5, 3), 6), {}, ValueError),
        ((torch.rand(2, 5, 3), torch.rand(2, 5, 3), 5), {"exclude_self": True}, ValueError),
        ((torch.rand(2, 4, 3), torch.rand(2, 5, 3), 2), {"exclude_self": True}, ValueError),
        ((torch.rand(2, 5, 3), torch.rand(3, 5, 3), 2), {}, ValueError),
        ((torch.rand(2, 5, 3), torch.rand(2, 5, 4), 2), {}, ValueError),
        ((torch.rand(5, 3), torch.rand(5, 3), 2), {}, ValueError),
        ((torch.rand(2, 5, 3), torch.rand(2, 0, 3), 1), {}, ValueError),
        ((torch.rand(2, 5, 3), torch.rand(2, 5, 3), 2.5), {}, TypeError),
        ((torch.rand(2, 5, 3), torch.rand(2, 5, 3), 2), {"backend": "faiss"}, ValueError),
        ((torch.full((2, 5, 3), float("nan")), torch.rand(2, 5, 3), 2), {}, ValueError),
    ],
)
def test_bad_input(args, kwargs, err):
    with pytest.raises(err):
        knn(*args, **kwargs)


@pytest.mark.gpu
def test_cuda_matches_cpu(backend):
    pts = torch.rand(2, 1000, 3)
    _, cpu = knn(pts, pts, 12, backend="torch")
    idx, gpu = knn(pts.cuda(), pts.cuda(), 12, backend=backend)
    assert idx.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-6)


def test_distance_blocks_respect_the_memory_budget(monkeypatch):
    sizes = []
    real = torch.baddbmm

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        sizes.append(out.numel() * out.element_size())
        return out

    monkeypatch.setattr(torch, "baddbmm", spy)
    pts = torch.rand(2, 500, 3)
    old = set_memory_budget(2 * 500 * 8 * 10)  # room for 10 queries per block
    try:
        knn(pts, pts, 4, backend="torch")
    finally:
        set_memory_budget(old)
    assert len(sizes) == 50 and max(sizes) <= 2 * 500 * 8 * 10
