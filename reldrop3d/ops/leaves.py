"""Queries and points cut into k-d leaves with bounding boxes: the layout of the blocked searches.

Both clouds are padded and ordered into the equal-size leaves of a batched k-d tree
(:func:`reldrop3d.ops.spatial_sort.kd_tree_order`). A *row* is one leaf of queries; rows of all
clouds are flattened over the batch, so one search step handles every cloud at once. A search
picks, per row, a few point leaves (by box distance) and works on their points as candidates.
Used by :mod:`reldrop3d.ops.knn_blocked` and the CPU path of :func:`reldrop3d.ops.ball_query`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .spatial_sort import kd_block_layout, kd_tree_order

# the leaf searches pay off once a cloud has a few dozen leaves (CPU; measured in
# benchmarks/bench_ops.py); a GPU runs the brute force (matmul + topk) at full width instead
MIN_POINTS = 512
POINT_LEAF = 16  # points per leaf (at most)
QUERY_LEAF = 16  # queries per leaf (at most)
INF = float("inf")


def use_leaf_search(query: torch.Tensor, num_points: int, chunk_size: int | None) -> bool:
    """Whether the pure-torch backend searches k-d leaves instead of brute force: 3-D clouds of
    at least :data:`MIN_POINTS` points on the CPU, no explicit ``chunk_size``."""
    return (query.shape[-1] == 3 and query.device.type == "cpu" and chunk_size is None
            and num_points >= MIN_POINTS)


def _sorted_leaves(x: torch.Tensor, target_size: int):
    """``x`` padded (copies of its last point), ordered into leaves; order (ids >= N: padding)."""
    b, n, _ = x.shape
    levels, size = kd_block_layout(n, target_size)
    total = size * 2**levels
    if total > n:
        x = torch.cat([x, x[:, -1:].expand(b, total - n, 3)], dim=1)
    order = kd_tree_order(x, levels)
    return x.gather(1, order.unsqueeze(-1).expand(-1, -1, 3)), order, size


def box_distance2(q_lo, q_hi, p_lo, p_hi) -> torch.Tensor:
    """Squared distances between boxes (..., Mq, 3) and (..., Mp, 3) -> (..., Mq, Mp)."""
    d2 = None
    for a in range(3):
        gap = torch.maximum(q_lo[..., a].unsqueeze(-1) - p_hi[..., a].unsqueeze(-2),
                            p_lo[..., a].unsqueeze(-2) - q_hi[..., a].unsqueeze(-1)).clamp_min_(0)
        d2 = gap.square_() if d2 is None else d2.add_(gap.square_())
    return d2


class LeafLayout:
    """k-d leaves of a query set and a point set (both (B, *, 3)), flattened over the batch.

    Parameters
    ----------
    query : Tensor (B, M, 3)
    points : Tensor (B, N, 3)
    same : bool
        The queries are the points (reuse one layout; query ids equal point ids).

    Attributes
    ----------
    rows, size, qsize, num_point_leaves : int
        Query leaves over the batch, points per point leaf, queries per query leaf, point leaves
        per cloud.
    q_rows : Tensor (rows, qsize, 3)
        The queries of each row (padding rows repeat a real query).
    q_ids : LongTensor (rows, qsize)
        Their indices in the caller's query order (>= M: padding).
    """

    def __init__(self, query: torch.Tensor, points: torch.Tensor, same: bool = False):
        b, m, _ = query.shape
        n = points.shape[1]
        dev = points.device
        ps, p_order, size = _sorted_leaves(points, POINT_LEAF)
        if same:
            qs, q_order, qsize = ps, p_order, size
        else:
            qs, q_order, qsize = _sorted_leaves(query, QUERY_LEAF)
        self.b, self.m, self.n = b, m, n
        self.size, self.qsize = size, qsize
        self.num_point_leaves = ps.shape[1] // size
        nbq = qs.shape[1] // qsize
        self.rows = b * nbq
        self.q_rows = qs.view(self.rows, qsize, 3)
        self.q_ids = q_order.view(self.rows, qsize)
        leaves = ps.view(b, self.num_point_leaves, size, 3)
        self.p_lo, self.p_hi = leaves.amin(2), leaves.amax(2)  # (B, nbp, 3)
        self.q_lo = self.q_rows.amin(1, keepdim=True)  # (rows, 1, 3)
        self.q_hi = self.q_rows.amax(1, keepdim=True)
        self.cloud_of_row = torch.arange(b, device=dev).repeat_interleave(nbq)
        self._points = ps.reshape(-1, 3)
        self._pad_penalty = torch.zeros(p_order.shape, dtype=ps.dtype, device=dev).masked_fill_(
            p_order >= n, INF).reshape(-1)
        self._point_ids = p_order.clamp(max=n - 1).reshape(-1)  # padding copies the last point
        self._offsets = torch.arange(size, device=dev)

    def box_distance2(self, row_ids: torch.Tensor) -> torch.Tensor:
        """(R, nbp) squared distances from the boxes of the listed rows to their point leaves."""
        cloud = self.cloud_of_row[row_ids]
        d2 = box_distance2(self.q_lo[row_ids], self.q_hi[row_ids], self.p_lo[cloud], self.p_hi[cloud])
        return d2.squeeze(1)

    def candidates(self, row_ids: torch.Tensor, leaves: torch.Tensor,
                   valid: torch.Tensor | None = None):
        """Points of the listed leaves (R, L) of each row.

        Returns coordinates (R, L * size, 3), a penalty (R, L * size) that is inf on padding (and
        on leaves with ``valid`` False, (R, L)) and 0 elsewhere, and the points' indices in the
        caller's order (R, L * size).
        """
        flat = (leaves.unsqueeze(-1) * self.size + self._offsets).flatten(1)
        flat += (self.cloud_of_row[row_ids] * (self.num_point_leaves * self.size)).unsqueeze(1)
        pen = self._pad_penalty[flat]
        if valid is not None:
            pen = pen.masked_fill(~valid.repeat_interleave(self.size, dim=1), INF)
        return self._points[flat], pen, self._point_ids[flat]

    def outer_chunks(self, bytes_per_row: int, budget: int) -> Iterator[torch.Tensor]:
        """Row ids in chunks whose leaf-box work (R x nbp) plus ``bytes_per_row`` fits ``budget``."""
        step = max(1, budget // (self.num_point_leaves * 64 + bytes_per_row))
        for start in range(0, self.rows, step):
            yield torch.arange(start, min(self.rows, start + step), device=self.q_rows.device)

    @staticmethod
    def by_count(count: torch.Tensor, bytes_per_leaf: int, budget: int,
                 max_rows: int = 128) -> Iterator[tuple[torch.Tensor, int]]:
        """Positions into ``count`` (R,), sorted by count, in chunks ``(positions, max count)``.

        Chunks hold at most ``max_rows`` rows (the candidate width of a chunk is its largest
        count, so small chunks follow the distribution) and fit ``budget`` at
        ``bytes_per_leaf`` per candidate leaf and row.
        """
        order = count.argsort()
        counts = count[order].tolist()
        start, total = 0, len(counts)
        while start < total:
            cap = min(total, start + max_rows)
            stop = min(cap, start + max(1, budget // (bytes_per_leaf * max(1, counts[cap - 1]))))
            yield order[start:stop], counts[stop - 1]
            start = stop

    def to_query_order(self, per_row: torch.Tensor) -> torch.Tensor:
        """(rows, qsize, *F) results -> (B, M, *F) in the caller's query order (padding dropped)."""
        feat = per_row.shape[2:]
        flat = per_row.reshape(self.b, -1, *feat)
        ids = self.q_ids.view(self.b, -1)
        real = ids < self.m
        out = per_row.new_empty(self.b, self.m, *feat)
        batch = torch.arange(self.b, device=ids.device).unsqueeze(1).expand_as(ids)
        out[batch[real], ids[real]] = flat[real]
        return out
