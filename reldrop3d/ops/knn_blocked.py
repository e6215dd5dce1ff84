"""Exact 3-D k-nearest-neighbour search that skips far-away blocks (pure torch, CPU-friendly).

Brute force computes all ``M x N`` distances and runs ``topk`` over rows of length N; on a CPU
that costs ~O(N) per query. Here both clouds are cut into the equal-size leaves of a k-d tree
(:func:`reldrop3d.ops.spatial_sort.kd_tree_order`), each with its bounding box. For every block
of queries:

1. **bound**: the distances to the points of the few blocks whose boxes are nearest give, per
   query, a k-th smallest distance ``r_q`` over real points, an upper bound of the true k-th
   neighbour distance; the block's radius is ``R = max_q r_q``;
2. **prune**: a point block can hold a true neighbour of a query in the block only if the two
   boxes are at most ``R`` apart, so only those blocks are searched;
3. **select**: ``topk`` over the candidates of those blocks (typically one to three hundred).

The result is exact: every true neighbour lies in a searched block (ties between equidistant
points may resolve differently than brute force). Blocks of queries are processed in order of
their candidate count, in chunks bounded by the memory budget, so one outlier block does not
widen the search of all others.
"""

from __future__ import annotations

import math

import torch

from .spatial_sort import kd_block_layout, kd_tree_order

POINT_BLOCK = 16  # points per leaf (at most)
QUERY_BLOCK = 16  # queries per leaf (at most)
_INF = float("inf")


def _sorted_blocks(x: torch.Tensor, target_size: int):
    """Cloud ``x`` padded (with copies of its last point) and ordered into k-d leaves.

    Returns the ordered cloud (B, nb * size, 3), the order (ids >= N are padding), the block
    size and the block boxes (B, nb, 3) x 2.
    """
    b, n, _ = x.shape
    levels, size = kd_block_layout(n, target_size)
    total = size * 2**levels
    if total > n:
        x = torch.cat([x, x[:, -1:].expand(b, total - n, 3)], dim=1)
    order = kd_tree_order(x, levels)
    xs = x.gather(1, order.unsqueeze(-1).expand(-1, -1, 3))
    blocks = xs.view(b, 2**levels, size, 3)
    return xs, order, size, blocks.amin(2), blocks.amax(2)


def _box_distance2(q_lo, q_hi, p_lo, p_hi) -> torch.Tensor:
    """Squared distances between boxes (B, Mq, 3) and (B, Mp, 3) -> (B, Mq, Mp)."""
    d2 = None
    for a in range(3):
        gap = torch.maximum(q_lo[..., a].unsqueeze(2) - p_hi[..., a].unsqueeze(1),
                            p_lo[..., a].unsqueeze(1) - q_hi[..., a].unsqueeze(2)).clamp_min_(0)
        d2 = gap.square_() if d2 is None else d2.add_(gap.square_())
    return d2


def _candidate_distances(q_rows, cand, cand_pen, q_ids=None, cand_ids=None):
    """(R, S, 3) queries x (R, C, 3) candidates -> (R, S, C) squared distances (expanded form).

    ``cand_pen`` (R, C) is added (0 or inf: padding); with ids given, a query's own point is inf.
    Coordinates are taken relative to a query of the block first (its middle one: leaves are
    sorted along their last split axis): the expansion then works on small local coordinates,
    more precise than centring the whole cloud (a block mean can lie far from all its queries).
    """
    mid = q_rows.shape[1] // 2
    local_origin = q_rows[:, mid:mid + 1]
    q_rows = q_rows - local_origin
    cand = cand - local_origin
    d = torch.baddbmm((cand.square().sum(-1) + cand_pen).unsqueeze(1), q_rows,
                      cand.transpose(1, 2), alpha=-2.0)
    d.add_(q_rows.square().sum(-1, keepdim=True))
    if q_ids is not None:
        d.masked_fill_(q_ids.unsqueeze(2) == cand_ids.unsqueeze(1), _INF)
    return d


def knn_blocked(query: torch.Tensor, points: torch.Tensor, k: int, exclude_self: bool = False,
                budget: int = 256 * 2**20) -> torch.Tensor:
    """Indices of the k nearest points of every query (unordered), exact, for 3-D clouds.

    Parameters
    ----------
    query : Tensor (B, M, 3)
    points : Tensor (B, N, 3)
        ``k <= N`` (``k <= N - 1`` with ``exclude_self``).
    k : int
    exclude_self : bool
        Queries are the points (M == N); query i never lists point i.
    budget : int
        Bytes for one chunk of candidate distances.

    Returns
    -------
    LongTensor (B, M, k)
        Indices into dim 1 of ``points``, in no particular order.
    """
    b, m, _ = query.shape
    n = points.shape[1]
    # centre (the |q|^2 - 2 q.p + |p|^2 expansion is most precise near the origin)
    centre = points.mean(dim=1, keepdim=True)
    points = points - centre
    ps, p_order, size, p_lo, p_hi = _sorted_blocks(points, POINT_BLOCK)
    if exclude_self:
        qs, q_order, qsize, q_lo, q_hi = ps, p_order, size, p_lo, p_hi
    else:
        qs, q_order, qsize, q_lo, q_hi = _sorted_blocks(query - centre, QUERY_BLOCK)
    p_ids = p_order.clamp(max=n - 1)  # padding copies the last point
    nbp, nbq = p_lo.shape[1], q_lo.shape[1]
    pad_pen = torch.zeros_like(p_order, dtype=points.dtype).masked_fill_(p_order >= n, _INF)
    extent2 = (p_hi.amax(1) - p_lo.amin(1)).square().sum(-1)  # (B,) squared cloud diagonal

    rows = b * nbq
    q_rows = qs.view(rows, qsize, 3)
    q_ids = q_order.view(rows, qsize) if exclude_self else None
    q_lo, q_hi = q_lo.view(rows, 1, 3), q_hi.view(rows, 1, 3)
    # flat views over the batch: query block (row) r belongs to cloud r // nbq
    cloud_of_row = torch.arange(b, device=points.device).repeat_interleave(nbq)
    ps_flat = ps.reshape(-1, 3)
    pen_flat = pad_pen.reshape(-1)
    p_ids_flat = p_ids.reshape(-1)
    offsets = torch.arange(size, device=points.device)
    slack = 1e-6 * extent2.repeat_interleave(nbq)
    c0 = min(nbp, math.ceil((k + int(exclude_self)) / size) + 1)  # blocks that hold >= k points

    def gather_candidates(row_ids, blocks, valid):
        """Coordinates, padding penalty and original ids of the points of the listed blocks."""
        flat = (blocks.unsqueeze(-1) * size + offsets).flatten(1)
        flat += (cloud_of_row[row_ids] * (nbp * size)).unsqueeze(1)
        pen = pen_flat[flat]
        if valid is not None:
            pen = pen.masked_fill(~valid.repeat_interleave(size, dim=1), _INF)
        return ps_flat[flat], pen, p_ids_flat[flat]

    def distances(row_ids, cand, pen, ids):
        return _candidate_distances(q_rows[row_ids], cand, pen,
                                    q_ids[row_ids] if exclude_self else None,
                                    ids if exclude_self else None)

    out = torch.empty(rows, qsize, k, dtype=torch.long, device=points.device)
    bytes_per_block_pair = qsize * size * 8  # distances + topk scratch, per (query, point) block
    # outer chunks: box distances of a set of query blocks to all point blocks
    outer = max(1, budget // (nbp * 64 + bytes_per_block_pair * c0))
    for o_start in range(0, rows, outer):
        row_ids = torch.arange(o_start, min(rows, o_start + outer), device=points.device)
        cloud = cloud_of_row[row_ids]
        box_d2 = _box_distance2(q_lo[row_ids], q_hi[row_ids], p_lo[cloud], p_hi[cloud])
        box_d2 = box_d2.squeeze(1)  # (R, nbp)

        # 1. bound: k-th distance over the blocks with the nearest boxes
        near = box_d2.topk(c0, dim=-1, largest=False).indices
        cand, pen, ids = gather_candidates(row_ids, near, None)
        d = distances(row_ids, cand, pen, ids)
        r2 = d.topk(k, dim=-1, largest=False, sorted=False).values.amax((-2, -1))  # (R,)
        r2 = r2 * (1 + 1e-5) + slack[row_ids]  # slack for rounding in the expanded form
        del cand, pen, ids, d

        # 2. prune: point blocks whose box lies within R of the query block's box
        within = box_d2 <= r2.unsqueeze(1)
        count = within.sum(-1)
        by_count = count.argsort()
        count_sorted = count[by_count].tolist()
        masked = box_d2.masked_fill_(~within, _INF)

        # 3. select, in chunks of rows with similar candidate counts (sorted by count)
        start, total = 0, len(count_sorted)
        while start < total:
            cap = min(total, start + 128)
            stop = min(cap, start + max(1, budget // (bytes_per_block_pair * count_sorted[cap - 1])))
            cmax = count_sorted[stop - 1]
            local = by_count[start:stop]
            vals, blocks = masked[local].topk(cmax, dim=-1, largest=False)
            chunk_rows = row_ids[local]
            cand, pen, ids = gather_candidates(chunk_rows, blocks, torch.isfinite(vals))
            d = distances(chunk_rows, cand, pen, ids)
            sel = d.topk(k, dim=-1, largest=False, sorted=False).indices  # (R, S, k)
            out[chunk_rows] = ids.unsqueeze(1).expand(-1, qsize, -1).gather(2, sel)
            start = stop

    # back to the callers' query order (padding queries dropped)
    out = out.view(b, nbq * qsize, k)
    real = q_order < m
    result = torch.empty(b, m, k, dtype=torch.long, device=points.device)
    bi = torch.arange(b, device=points.device).unsqueeze(1).expand(-1, nbq * qsize)
    result[bi[real], q_order[real]] = out[real]
    return result
