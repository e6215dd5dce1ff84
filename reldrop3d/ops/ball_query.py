"""Batched ball query: up to K points within a radius of each query (PointNet++ grouping)."""

from __future__ import annotations

import math

import torch

from .backend import (
    check_points,
    cluster_flat_batches,
    get_memory_budget,
    query_chunk_size,
    resolve_backend,
    torch_cluster_module,
)
from .knn import squared_distance
from .leaves import LeafLayout, use_leaf_search

ORDERS = ("first", "nearest")


def _pairwise_sq_dist(q: torch.Tensor, p_planes: torch.Tensor) -> torch.Tensor:
    """Exact (B, c, N) squared distances ``((dx^2 + dy^2) + dz^2)`` (no |p|^2 - 2 q.p expansion,
    so the radius test is decided the same way by every backend)."""
    d = (q[..., 0:1] - p_planes[:, 0:1]).square_()
    t = q[..., 1:2] - p_planes[:, 1:2]
    d.addcmul_(t, t)
    torch.sub(q[..., 2:3], p_planes[:, 2:3], out=t)
    return d.addcmul_(t, t)


def _pad(idx: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Replace slots ``j >= count`` by the first neighbour (by index 0 where count == 0)."""
    k = idx.shape[-1]
    slot = torch.arange(k, device=idx.device)
    first = torch.where(count > 0, idx[..., 0], torch.zeros_like(idx[..., 0]))
    return torch.where(slot < count.unsqueeze(-1), idx, first.unsqueeze(-1))


def _ball_torch(query, points, r2, k, order, chunk):
    b, m, _ = query.shape
    n = points.shape[1]
    if use_leaf_search(query, n, chunk):
        return _ball_blocked(query, points, r2, k, order, get_memory_budget())
    kk = min(k, n)
    planes = points.transpose(1, 2).contiguous()  # (B, 3, N)
    idx = torch.empty(b, m, kk, dtype=torch.long, device=query.device)
    count = torch.empty(b, m, dtype=torch.long, device=query.device)
    # float keys (exact up to 2**24 points): float topk is faster than integer topk
    key_dtype = torch.float32 if n <= 2**24 else torch.float64
    arange = torch.arange(n, device=query.device, dtype=key_dtype)
    chunk = chunk or query_chunk_size(b, m, n, bytes_per_pair=4 * query.element_size())
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        d = _pairwise_sq_dist(query[:, s:e], planes)
        inside = d < r2
        count[:, s:e] = inside.sum(-1).clamp_(max=kk)
        if order == "first":
            key = torch.where(inside, arange, float(n))  # the kk smallest = the first kk found
            idx[:, s:e] = key.topk(kk, dim=-1, largest=False, sorted=True).indices
        else:
            d.masked_fill_(~inside, float("inf"))
            idx[:, s:e] = d.topk(kk, dim=-1, largest=False, sorted=True).indices
    return idx, count


def _ball_blocked(query, points, r2, k, order, budget):
    """The torch backend's result, from the point leaves whose boxes reach into each query
    leaf's radius (:class:`reldrop3d.ops.leaves.LeafLayout`); the same distance arithmetic
    (:func:`_pairwise_sq_dist`), so the same ``idx`` and ``count``."""
    n = points.shape[1]
    kk = min(k, n)
    lay = LeafLayout(query, points)
    key_dtype = torch.float32 if n <= 2**24 else torch.float64
    # a leaf farther than the radius (with a margin for rounding) holds no point inside the ball
    reach = r2 * (1 + 1e-5)
    min_leaves = math.ceil(kk / lay.size)  # topk needs >= kk candidates
    bytes_per_leaf = lay.qsize * lay.size * 16
    idx = torch.empty(lay.rows, lay.qsize, kk, dtype=torch.long, device=query.device)
    count = torch.empty(lay.rows, lay.qsize, dtype=torch.long, device=query.device)
    for row_ids in lay.outer_chunks(0, budget):
        box_d2 = lay.box_distance2(row_ids)
        wanted = (box_d2 < reach).sum(-1).clamp_(min=min_leaves)
        for local, width in lay.by_count(wanted, bytes_per_leaf, budget):
            rows = row_ids[local]
            leaves = box_d2[local].topk(width, dim=-1, largest=False).indices
            cand, pen, ids = lay.candidates(rows, leaves)
            d = _pairwise_sq_dist(lay.q_rows[rows], cand.transpose(1, 2).contiguous())
            inside = (d < r2) & (pen == 0).unsqueeze(1)
            count[rows] = inside.sum(-1).clamp_(max=kk)
            if order == "first":  # the kk smallest original indices inside the ball
                key = torch.where(inside, ids.to(key_dtype).unsqueeze(1), float(n))
                idx[rows] = key.topk(kk, dim=-1, largest=False, sorted=True).values.long()
            else:
                d.masked_fill_(~inside, float("inf"))
                sel = d.topk(kk, dim=-1, largest=False, sorted=True).indices
                idx[rows] = ids.unsqueeze(1).expand(-1, lay.qsize, -1).gather(2, sel)
    # slots beyond count may hold n (no point): _pad overwrites them
    return lay.to_query_order(idx.clamp_(max=n - 1)), lay.to_query_order(count)


def _ball_cluster(query, points, radius, r2, k, order):
    tc = torch_cluster_module()
    b, m, _ = query.shape
    n = points.shape[1]
    kk = min(k, n)
    x, y, batch_x, batch_y = cluster_flat_batches(points, query)
    offsets = (torch.arange(b, device=query.device) * n).view(b, 1, 1)
    if order == "nearest":
        row, col = tc.knn(x, y, kk, batch_x, batch_y, num_workers=torch.get_num_threads(),
                          batch_size=b)
        idx = col.view(b, m, kk) - offsets
        d = squared_distance(query, points, idx)
        d, o = d.sort(dim=-1, stable=True)
        idx = idx.gather(-1, o)
        return idx, (d < r2).sum(-1)
    # "first": torch-cluster's CUDA kernel keeps the first max_num_neighbors in index order, its
    # CPU kd-tree an arbitrary subset, so on CPU all neighbours are fetched and cut here.
    limit = kk if query.is_cuda else n
    row, col = tc.radius(x, y, radius, batch_x, batch_y, max_num_neighbors=limit,
                         num_workers=torch.get_num_threads(), batch_size=b)
    # the radius test again, in the exact arithmetic of the torch backend (boundary cases)
    d = (y[row] - x[col]).square()
    keep = ((d[:, 0] + d[:, 1]) + d[:, 2]) < r2
    row, col = row[keep], col[keep]
    col = col - batch_x[col] * n  # local point index
    key = row * n + col
    key = key.sort().values
    row, col = key // n, key % n
    count = torch.bincount(row, minlength=b * m)
    start = torch.cumsum(count, 0) - count
    rank = torch.arange(row.numel(), device=row.device) - start[row]
    sel = rank < kk
    idx = torch.zeros(b * m, kk, dtype=torch.long, device=query.device)
    idx[row[sel], rank[sel]] = col[sel]
    return idx.view(b, m, kk), count.clamp_(max=kk).view(b, m)


def ball_query(
    query: torch.Tensor,
    points: torch.Tensor,
    radius: float,
    max_neighbors: int,
    order: str = "first",
    backend: str = "auto",
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``max_neighbors`` points within ``radius`` of every query point.

    Parameters
    ----------
    query : Tensor (B, M, 3)
        Ball centres (in PointNet++ the FPS centroids, a subset of ``points``).
    points : Tensor (B, N, 3)
    radius : float
        Ball radius; a point is inside when its squared distance is strictly below ``radius**2``.
    max_neighbors : int
        K, the number of neighbour slots per query.
    order : {"first", "nearest"}
        Which neighbours are kept when more than K lie in the ball: ``"first"`` keeps the first K
        found in index order (the PointNet++ CUDA kernel's behaviour, the default), ``"nearest"``
        the K nearest. Either way, the kept neighbours are listed in that order.
    backend : {"auto", "torch", "cluster"}
    chunk_size : int, optional
        Queries per block in the pure-torch backend (default: from the memory budget).

    Returns
    -------
    idx : LongTensor (B, M, K)
        Indices into dim 1 of ``points``. Slots beyond the number found repeat the first neighbour
        found (PointNet++'s padding); a query with no point in its ball gets index 0 everywhere.
        If ``N < K``, K is still the last dimension (padded the same way).
    count : LongTensor (B, M)
        Number of real neighbours per query, ``min(points in the ball, K, N)``; the valid-slot
        mask is ``torch.arange(K) < count[..., None]``.

    Notes
    -----
    Indices carry no gradient. Both backends return identical ``idx`` and ``count`` (for
    ``"nearest"``, up to equidistant points). The torch backend computes exact (B, chunk, N)
    distance blocks within the memory budget.
    """
    check_points(query, "query")
    check_points(points, "points")
    b, m, _ = query.shape
    if points.shape[0] != b:
        raise ValueError(f"query and points have different batch sizes: {b} vs {points.shape[0]}")
    if not radius > 0 or radius != radius or radius == float("inf"):
        raise ValueError(f"radius must be a positive finite number, got {radius}")
    if isinstance(max_neighbors, bool) or not isinstance(max_neighbors, int) or max_neighbors < 1:
        raise ValueError(f"max_neighbors must be a positive int, got {max_neighbors!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    which = resolve_backend(backend)
    n = points.shape[1]
    r2 = float(radius) ** 2
    with torch.no_grad():
        q, p = query.detach(), points.detach()
        if which == "cluster":
            idx, count = _ball_cluster(q, p, float(radius), r2, max_neighbors, order)
        else:
            idx, count = _ball_torch(q, p, r2, max_neighbors, order, chunk_size)
        idx = _pad(idx, count)
        if max_neighbors > n:
            idx = torch.cat([idx, idx[..., :1].expand(b, m, max_neighbors - n)], dim=-1)
    return idx, count
