"""Exact 3-D k-nearest-neighbour search that skips far-away blocks (pure torch, CPU-friendly).

Brute force computes all ``M x N`` distances and runs ``topk`` over rows of length N; on a CPU
that costs ~O(N) per query. Here both clouds are cut into the equal-size leaves of a k-d tree
(:class:`reldrop3d.ops.leaves.LeafLayout`), each with its bounding box. For every block
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

from .leaves import INF, LeafLayout


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
        d.masked_fill_(q_ids.unsqueeze(2) == cand_ids.unsqueeze(1), INF)
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
    centre = points.mean(dim=1, keepdim=True)
    lay = LeafLayout(query - centre, points - centre, same=exclude_self)
    size, qsize, nbp = lay.size, lay.qsize, lay.num_point_leaves
    extent2 = (lay.p_hi.amax(1) - lay.p_lo.amin(1)).square().sum(-1)  # (B,) squared diagonal
    slack = 1e-6 * extent2[lay.cloud_of_row]
    c0 = min(nbp, math.ceil((k + int(exclude_self)) / size) + 1)  # leaves that hold >= k points
    bytes_per_leaf = qsize * size * 8  # distances + topk scratch, per (query leaf, point leaf)

    def distances(row_ids, cand, pen, ids):
        own = lay.q_ids[row_ids] if exclude_self else None
        return _candidate_distances(lay.q_rows[row_ids], cand, pen, own,
                                    ids if exclude_self else None)

    out = torch.empty(lay.rows, qsize, k, dtype=torch.long, device=points.device)
    for row_ids in lay.outer_chunks(bytes_per_leaf * c0, budget):
        box_d2 = lay.box_distance2(row_ids)  # (R, nbp)

        # 1. bound: k-th distance over the leaves with the nearest boxes
        near = box_d2.topk(c0, dim=-1, largest=False).indices
        cand, pen, ids = lay.candidates(row_ids, near)
        d = distances(row_ids, cand, pen, ids)
        r2 = d.topk(k, dim=-1, largest=False, sorted=False).values.amax((-2, -1))  # (R,)
        r2 = r2 * (1 + 1e-5) + slack[row_ids]  # slack for rounding in the expanded form
        del cand, pen, ids, d

        # 2. prune: point leaves whose box lies within R of the query leaf's box
        within = box_d2 <= r2.unsqueeze(1)
        masked = box_d2.masked_fill_(~within, INF)

        # 3. select, in chunks of rows with similar candidate counts
        for local, cmax in lay.by_count(within.sum(-1), bytes_per_leaf, budget):
            vals, leaves = masked[local].topk(cmax, dim=-1, largest=False)
            chunk_rows = row_ids[local]
            cand, pen, ids = lay.candidates(chunk_rows, leaves, torch.isfinite(vals))
            d = distances(chunk_rows, cand, pen, ids)
            sel = d.topk(k, dim=-1, largest=False, sorted=False).indices  # (R, S, k)
            out[chunk_rows] = ids.unsqueeze(1).expand(-1, qsize, -1).gather(2, sel)
    return lay.to_query_order(out)
