"""Ball query: reference loop (first found / nearest), padding, backend agreement, chunking."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reldrop3d.ops import ball_query, has_torch_cluster

needs_cluster = pytest.mark.skipif(not has_torch_cluster(), reason="torch-cluster not installed")


def _reference(query, points, radius, k, order):
    """Per-query loop over the points in index order (PointNet++'s kernel), float32 arithmetic."""
    b, m, _ = query.shape
    idx = torch.zeros(b, m, k, dtype=torch.long)
    count = torch.zeros(b, m, dtype=torch.long)
    for bi in range(b):
        for qi in range(m):
            diff = (points[bi] - query[bi, qi]).square()
            d = (diff[:, 0] + diff[:, 1]) + diff[:, 2]
            inside = torch.nonzero(d < radius**2).flatten()
            if order == "nearest":
                inside = inside[d[inside].sort(stable=True).indices]
            found = inside[:k].tolist()
            count[bi, qi] = len(found)
            pad = found[0] if found else 0
            idx[bi, qi] = torch.tensor(found + [pad] * (k - len(found)))
    return idx, count


@pytest.mark.parametrize("order", ["first", "nearest"])
@pytest.mark.parametrize("radius,k", [(0.05, 4), (0.3, 16), (2.0, 8)])
def test_matches_reference(backend, order, radius, k):
    g = torch.Generator().manual_seed(int(radius * 100) + k)
    pts = torch.rand(2, 150, 3, generator=g)
    query = torch.rand(2, 20, 3, generator=g)
    idx, count = ball_query(query, pts, radius, k, order=order, backend=backend)
    ref_idx, ref_count = _reference(query, pts, radius, k, order)
    assert idx.shape == (2, 20, k) and count.shape == (2, 20)
    assert torch.equal(count, ref_count)
    assert torch.equal(idx, ref_idx)


@needs_cluster
@pytest.mark.parametrize("order", ["first", "nearest"])
def test_backends_agree(order):
    g = torch.Generator().manual_seed(11)
    pts = torch.rand(3, 700, 3, generator=g)
    query = pts[:, :150]
    a = ball_query(query, pts, 0.2, 32, order=order, backend="torch")
    c = ball_query(query, pts, 0.2, 32, order=order, backend="cluster")
    assert torch.equal(a[1], c[1])
    assert torch.equal(a[0], c[0])


def test_chunked_equals_unchunked():
    pts = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(4))
    full = ball_query(pts, pts, 0.25, 16, backend="torch", chunk_size=300)
    for chunk in (1, 13):
        part = ball_query(pts, pts, 0.25, 16, backend="torch", chunk_size=chunk)
        assert torch.equal(full[0], part[0]) and torch.equal(full[1], part[1])


def test_padding_and_more_slots_than_points(backend):
    pts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0.05, 0, 0], [5, 5, 5]]])
    query = torch.tensor([[[0.0, 0, 0], [9, 9, 9]]])
    idx, count = ball_query(query, pts, 0.1, 6, backend=backend)
    assert idx.shape == (1, 2, 6)
    assert idx[0, 0].tolist() == [0, 2, 0, 0, 0, 0] and count[0, 0] == 2
    assert idx[0, 1].tolist() == [0] * 6 and count[0, 1] == 0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 50), k=st.integers(1, 20), r=st.floats(0.01, 1.5),
       seed=st.integers(0, 999))
def test_property_neighbours_inside_ball(n, k, r, seed):
    g = torch.Generator().manual_seed(seed)
    pts, query = torch.rand(2, n, 3, generator=g), torch.rand(2, 5, 3, generator=g)
    for order in ("first", "nearest"):
        idx, count = ball_query(query, pts, r, k, order=order, backend="torch")
        nb = torch.gather(pts, 1, idx.view(2, -1, 1).expand(-1, -1, 3)).view(2, 5, k, 3)
        d2 = (nb - query.unsqueeze(2)).square().sum(-1)
        valid = torch.arange(k) < count.unsqueeze(-1)
        assert bool((d2[valid] < r * r + 1e-6).all())
        assert bool((count <= min(k, n)).all())


@pytest.mark.parametrize(
    "kwargs,err",
    [
        (dict(radius=0.0, max_neighbors=4), ValueError),
        (dict(radius=float("nan"), max_neighbors=4), ValueError),
        (dict(radius=0.1, max_neighbors=0), ValueError),
        (dict(radius=0.1, max_neighbors=4, order="random"), ValueError),
        (dict(radius=0.1, max_neighbors=4, backend="x"), ValueError),
    ],
)
def test_bad_input(kwargs, err):
    with pytest.raises(err):
        ball_query(torch.rand(1, 3, 3), torch.rand(1, 10, 3), **kwargs)


@pytest.mark.gpu
@pytest.mark.parametrize("order", ["first", "nearest"])
def test_cuda_matches_cpu(backend, order):
    pts = torch.rand(2, 2000, 3)
    ref = ball_query(pts[:, :300], pts, 0.15, 32, order=order, backend="torch")
    got = ball_query(pts[:, :300].cuda(), pts.cuda(), 0.15, 32, order=order, backend=backend)
    # points within rounding of the sphere may fall on either side on the GPU
    assert (got[1].cpu() == ref[1]).float().mean() > 0.999
    assert (got[0].cpu() == ref[0]).float().mean() > 0.99
