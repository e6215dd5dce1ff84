"""Farthest point sampling (FPS), batched, with a torch-cluster and a pure-torch backend."""

from __future__ import annotations

import torch

from .backend import check_points, resolve_backend, torch_cluster_module


def _start_indices(start, batch: int, num_points: int, device: torch.device,
                   generator: torch.Generator | None) -> torch.Tensor:
    if isinstance(start, str):
        if start == "first":
            return torch.zeros(batch, dtype=torch.long, device=device)
        if start == "random":
            return torch.randint(num_points, (batch,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"
                                 ).to(device)
        raise ValueError(f"start must be 'first', 'random' or a LongTensor (B,), got {start!r}")
    if not isinstance(start, torch.Tensor) or start.dtype != torch.long or start.shape != (batch,):
        got = tuple(start.shape) if isinstance(start, torch.Tensor) else type(start).__name__
        raise ValueError(f"start must be 'first', 'random' or a LongTensor of shape ({batch},), "
                         f"got {got}")
    if start.numel() and (int(start.min()) < 0 or int(start.max()) >= num_points):
        raise ValueError(f"start indices must lie in [0, {num_points}), got {start.tolist()}")
    return start.to(device)


def _fps_torch(points: torch.Tensor, num_samples: int, start: torch.Tensor) -> torch.Tensor:
    """Running (B, N) min-distance tensor and one argmax per step; loops over samples only."""
    b, n, _ = points.shape
    out = torch.empty(b, num_samples, dtype=torch.long, device=points.device)
    out[:, 0] = start
    if num_samples == 1:
        return out
    # Coordinate planes (3, B, N), each contiguous: the per-step update is 8 elementwise passes.
    planes = points.permute(2, 0, 1).contiguous()
    x, y, z = planes[0], planes[1], planes[2]
    min_d = torch.empty(b, n, dtype=points.dtype, device=points.device)
    d = torch.empty_like(min_d)
    t = torch.empty_like(min_d)
    cur = start.view(b, 1)
    for i in range(1, num_samples):
        c = planes.gather(2, cur.view(1, b, 1).expand(3, b, 1))  # (3, B, 1)
        # d = ((x - cx)^2 + (y - cy)^2) + (z - cz)^2, summed in the order torch-cluster uses
        torch.sub(x, c[0], out=d)
        d.mul_(d)
        torch.sub(y, c[1], out=t)
        d.addcmul_(t, t)
        torch.sub(z, c[2], out=t)
        d.addcmul_(t, t)
        if i == 1:
            min_d.copy_(d)
        else:
            torch.minimum(min_d, d, out=min_d)
        cur = min_d.argmax(dim=1, keepdim=True)
        out[:, i : i + 1] = cur
    return out


def _fps_cluster(points: torch.Tensor, num_samples: int, start: torch.Tensor) -> torch.Tensor:
    """torch-cluster FPS. It starts at the first point of each cloud, so clouds are first rotated
    (cyclically re-indexed) to put ``start`` first, and the indices rotated back afterwards."""
    tc = torch_cluster_module()
    b, n, c = points.shape
    rotate = bool((start != 0).any())
    if rotate:
        order = (torch.arange(n, device=points.device).view(1, n) + start.view(b, 1)) % n
        points = points.gather(1, order.unsqueeze(-1).expand(b, n, c))
    ptr = torch.arange(0, (b + 1) * n, n, device=points.device)
    # torch-cluster takes ceil(N * ratio) samples; ask for M + 1/2 so float rounding yields M or
    # M + 1, and keep the first M (FPS is greedy: the first M of M + 1 samples are the M samples).
    ratio = min(1.0, (num_samples + 0.5) / n)
    flat = tc.fps(points.reshape(b * n, c), ptr=ptr, ratio=ratio, random_start=False)
    idx = flat.view(b, -1)[:, :num_samples] - ptr[:-1].view(b, 1)
    if rotate:
        idx = (idx + start.view(b, 1)) % n
    return idx


def farthest_point_sample(
    points: torch.Tensor,
    num_samples: int,
    start: str | torch.Tensor = "first",
    backend: str = "auto",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Farthest point sampling: greedily pick the point farthest from those already picked.

    Parameters
    ----------
    points : Tensor (B, N, 3)
        Point coordinates (exactly 3 channels; pass ``points[..., :3]`` for xyz + normals).
    num_samples : int
        M, the number of points to pick per cloud, ``1 <= M <= N``.
    start : {"first", "random"} or LongTensor (B,)
        First pick: index 0 of every cloud (``"first"``, as torch-cluster's
        ``random_start=False``), a uniformly random index per cloud (``"random"``, drawn from
        ``generator`` / the global torch RNG, so seeding makes it reproducible and identical
        across backends), or given indices.
    backend : {"auto", "torch", "cluster"}
        See :mod:`reldrop3d.ops.backend`; on CPU, ``"auto"`` runs the pure-torch FPS, which is
        faster there than torch-cluster's.
    generator : torch.Generator, optional
        RNG for ``start="random"``.

    Returns
    -------
    LongTensor (B, M)
        Indices into dim 1 of ``points``, in pick order; ``idx[:, 0]`` is the start. Both backends
        return identical indices from the same start (ties go to the lowest index).

    Notes
    -----
    Distances are squared Euclidean, so FPS is invariant to translation and rotation up to float
    rounding. Runs without autograd (indices are constants). The pure-torch version keeps a
    running (B, N) minimum-distance tensor: O(B N) memory and M vectorised steps.
    """
    check_points(points, "points")
    b, n, _ = points.shape
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
    if not 1 <= num_samples <= n:
        raise ValueError(f"num_samples must lie in [1, N={n}], got {num_samples}")
    which = resolve_backend(backend)
    if backend == "auto" and points.device.type == "cpu":
        which = "torch"  # on CPU the batched pure-torch FPS is 5-9x faster (benchmarks/bench_ops.py)
    with torch.no_grad():
        start_idx = _start_indices(start, b, n, points.device, generator)
        if which == "cluster":
            return _fps_cluster(points.detach(), num_samples, start_idx)
        return _fps_torch(points.detach(), num_samples, start_idx)
