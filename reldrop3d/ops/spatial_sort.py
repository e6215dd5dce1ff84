"""Spatial partition of point clouds into equal-size compact blocks (a batched k-d tree)."""

from __future__ import annotations

import math

import torch


def kd_block_layout(num_points: int, target_size: int = 16) -> tuple[int, int]:
    """``(levels, size)`` of a k-d partition of ``num_points`` into ``2**levels`` leaves.

    The leaf size is at most ``target_size``; ``2**levels * size - num_points`` slots (fewer than
    ``2**levels``) are padding.
    """
    if num_points < 1 or target_size < 1:
        raise ValueError(f"need num_points >= 1 and target_size >= 1, got {num_points}, {target_size}")
    levels = max(0, math.ceil(math.log2(num_points / target_size)))
    return levels, math.ceil(num_points / 2**levels)


def kd_tree_order(points: torch.Tensor, levels: int) -> torch.Tensor:
    """Order that groups each cloud into ``2**levels`` k-d tree leaves of equal size.

    Every level splits each segment at its median along the segment's longest bounding-box axis
    (ties by index), so the leaves are compact boxes (unlike blocks of a space-filling curve,
    which straddle its jumps).

    Parameters
    ----------
    points : Tensor (B, N, 3)
        ``N`` must be divisible by ``2**levels`` (pad first; see :func:`kd_block_layout`).
    levels : int

    Returns
    -------
    LongTensor (B, N)
        Leaf ``j`` is ``order[:, j * s:(j + 1) * s]`` with ``s = N // 2**levels``.
    """
    b, n, d = points.shape
    if n % (2**levels):
        raise ValueError(f"kd_tree_order: N={n} is not divisible by 2**levels={2**levels}")
    order = torch.arange(n, device=points.device).expand(b, n)
    x = points
    for level in range(levels):
        segs = 2**level
        seg = x.view(b, segs, n // segs, d)
        axis = (seg.amax(2) - seg.amin(2)).argmax(-1)  # (B, segs)
        coord = seg.gather(3, axis.view(b, segs, 1, 1).expand(-1, -1, n // segs, 1)).squeeze(-1)
        perm = coord.argsort(dim=-1, stable=True)
        perm = (perm + torch.arange(0, n, n // segs, device=x.device).view(1, segs, 1)).view(b, n)
        order = order.gather(1, perm)
        x = x.gather(1, perm.unsqueeze(-1).expand(-1, -1, d))
    return order
