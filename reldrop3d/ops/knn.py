"""Batched k-nearest-neighbour search (B, M, D) x (B, N, D) -> (B, M, k), any dimension D."""

from __future__ import annotations

import torch

from .backend import (
    check_points,
    cluster_flat_batches,
    get_memory_budget,
    query_chunk_size,
    resolve_backend,
    torch_cluster_module,
)
from .knn_blocked import knn_blocked
from .leaves import use_leaf_search


def squared_distance(query: torch.Tensor, points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Exact squared distances from each query to its listed neighbours.

    Parameters
    ----------
    query : Tensor (B, M, D)
    points : Tensor (B, N, D)
    idx : LongTensor (B, M, K)
        Indices into dim 1 of ``points``.

    Returns
    -------
    Tensor (B, M, K)
        ``sum_d (points[idx] - query)_d^2``, computed the same way for both backends.
    """
    b, m, k = idx.shape
    d = points.shape[-1]
    nb = points.gather(1, idx.reshape(b, m * k, 1).expand(b, m * k, d)).view(b, m, k, d)
    diff = nb - query.unsqueeze(2)
    return diff.square().sum(-1)


def _sort_by_distance(idx: torch.Tensor, dist2: torch.Tensor):
    dist2, order = dist2.sort(dim=-1, stable=True)
    return idx.gather(-1, order), dist2


def _drop_self(idx: torch.Tensor, k: int) -> torch.Tensor:
    """From (B, M, k + 1) candidates keep the first k that are not the query's own index."""
    b, m, _ = idx.shape
    own = torch.arange(m, device=idx.device).view(1, m, 1)
    is_self = (idx == own).to(torch.uint8)
    order = is_self.sort(dim=-1, stable=True).indices[..., :k]  # self moves to the end
    return idx.gather(-1, order)


def _knn_torch(query, points, k, exclude_self, chunk):
    b, m, _ = query.shape
    n = points.shape[1]
    if use_leaf_search(query, n, chunk):
        return knn_blocked(query, points, k, exclude_self, budget=get_memory_budget())
    # Centre both clouds: the |p|^2 - 2 q.p expansion loses less precision near the origin.
    centre = points.mean(dim=1, keepdim=True)
    p = points - centre
    q = query - centre
    p_sq = p.square().sum(-1).unsqueeze(1)  # (B, 1, N); |q|^2 is constant per row: left out
    p_t = p.transpose(1, 2)
    idx = torch.empty(b, m, k, dtype=torch.long, device=query.device)
    chunk = chunk or query_chunk_size(b, m, n, bytes_per_pair=2 * query.element_size())
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        d = torch.baddbmm(p_sq, q[:, s:e], p_t, alpha=-2.0)  # (B, c, N)
        if exclude_self:
            d.diagonal(offset=s, dim1=1, dim2=2).fill_(float("inf"))
        idx[:, s:e] = d.topk(k, dim=-1, largest=False, sorted=False).indices
    return idx


def _knn_cluster(query, points, k, exclude_self):
    tc = torch_cluster_module()
    b, m, _ = query.shape
    n = points.shape[1]
    kk = min(n, k + 1) if exclude_self else k
    x, y, batch_x, batch_y = cluster_flat_batches(points, query)
    row, col = tc.knn(x, y, kk, batch_x, batch_y, num_workers=torch.get_num_threads(),
                      batch_size=b)
    if row.numel() != b * m * kk:
        raise RuntimeError(f"torch-cluster knn returned {row.numel()} pairs, expected {b * m * kk}")
    # Pairs come grouped by query (row-major); make the point indices local to each cloud.
    idx = col.view(b, m, kk) - (torch.arange(b, device=col.device) * n).view(b, 1, 1)
    if exclude_self:
        idx = _drop_self(idx, k)
    return idx


def knn(
    query: torch.Tensor,
    points: torch.Tensor,
    k: int,
    exclude_self: bool = False,
    backend: str = "auto",
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest points of every query point, within each batch element.

    Parameters
    ----------
    query : Tensor (B, M, D)
        Query points; D is any dimension (3 for coordinates, more for feature-space graphs as
        in DGCNN).
    points : Tensor (B, N, D)
    k : int
        Neighbours per query, ``1 <= k <= N`` (``k <= N - 1`` with ``exclude_self``).
    exclude_self : bool
        The queries are the points themselves (``query`` has N points, query i is point i): leave
        index i out of query i's neighbours. Other points at distance 0 (duplicates) stay in.
    backend : {"auto", "torch", "cluster"}
        See :mod:`reldrop3d.ops.backend`; ``"auto"`` uses the pure-torch backend for D > 3
        (torch-cluster's kd-tree is slower than a matmul there, e.g. DGCNN's feature graphs).
    chunk_size : int, optional
        Queries per block in the pure-torch backend (default: as many as the memory budget of
        :func:`reldrop3d.ops.get_memory_budget` allows for a (B, chunk, N) distance block).

    Returns
    -------
    idx : LongTensor (B, M, k)
        Indices into dim 1 of ``points``, nearest first.
    dist2 : Tensor (B, M, k)
        Squared Euclidean distances, ascending, computed exactly (not from the ``|p|^2 - 2 q.p``
        expansion) by both backends. For equidistant points the backends may pick different
        indices; the distances agree.

    Notes
    -----
    Indices are found without autograd; ``dist2`` is differentiable with respect to ``query`` and
    ``points``. The pure-torch backend ranks candidates with a chunked ``baddbmm`` + ``topk``.
    """
    check_points(query, "query", dim=None)
    check_points(points, "points", dim=None)
    b, m, dim = query.shape
    n = points.shape[1]
    if points.shape[-1] != dim:
        raise ValueError(f"query and points differ in dimension: {dim} vs {points.shape[-1]}")
    if points.shape[0] != b:
        raise ValueError(f"query and points have different batch sizes: {b} vs {points.shape[0]}")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if exclude_self and m != n:
        raise ValueError(f"exclude_self needs the queries to be the points (M == N), got M={m}, "
                         f"N={n}")
    k_max = n - 1 if exclude_self else n
    if not 1 <= k <= k_max:
        raise ValueError(f"k must lie in [1, {k_max}] for N={n}"
                         f"{' with exclude_self' if exclude_self else ''}, got {k}")
    # torch-cluster's CPU kd-tree degrades in high dimension; the chunked matmul does not
    which = "torch" if backend == "auto" and dim > 3 else resolve_backend(backend)
    with torch.no_grad():
        if which == "cluster":
            idx = _knn_cluster(query.detach(), points.detach(), k, exclude_self)
        else:
            idx = _knn_torch(query.detach(), points.detach(), k, exclude_self, chunk_size)
    return _sort_by_distance(idx, squared_distance(query, points, idx))
