"""Spatially balanced RelDrop: drop whole neighbourhoods around relevant, well-spread seeds.

The paper's rule drops single elements (points, pixels) independently. On point clouds that
thins the most relevant part out instead of removing it, and the network can still see its
silhouette. Region mode removes whole neighbourhoods instead:

1. **Score.** Every element gets the RelDrop rule's score ``s = alpha * u + (1 - alpha) * R_norm``
   (``u ~ U(0, 1)``, ``R_norm`` the per-sample min-max normalised relevance); the paper's point
   mode drops the elements with ``s >= 1 - beta``. ``alpha`` tempers the choice in the same way:
   ``alpha = 0`` orders seeds by relevance alone, ``alpha = 1`` draws them uniformly at random.
2. **Spread.** Seeds are taken greedily in decreasing score among the elements that no earlier
   neighbourhood covers, so no seed lies inside an earlier seed's neighbourhood (for kNN: the
   k nearest points of the seed; for balls: every point closer than the radius). Seeds therefore
   spread over the shape like farthest point sampling restricted to the relevant candidates.
3. **Budget.** Neighbourhoods are added until ``round(beta * N)`` elements are covered. With
   ``truncate=False`` (default) whole neighbourhoods are dropped and the last one is kept or left
   out, whichever brings the count closer to the budget; with ``truncate=True`` exactly the
   budget is dropped (the last neighbourhood loses its farthest members).

Everything is vectorised over the batch. One greedy step costs a (B, N) argmax and a neighbour
search for the B seeds: by default (``backend="step"``) the (B, N) distances to the seeds and a
top-k, like one farthest-point-sampling step; alternatively the whole neighbour graph is built
once with :func:`reldrop3d.ops.knn` / :func:`reldrop3d.ops.ball_query` and each step gathers
rows. The number of steps is about ``beta * N / k`` (the loop stops when every sample has met
its budget, checked every 4 steps). Runs on the input's device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..ops import ball_query, knn
from . import defaults
from .rules import check_unit_interval, rule_score

# neighbourhood(seed (B,)) -> (member (B, E) bool, order (B, E) float in [0, 1): rank in the
# neighbourhood, used to truncate the last one)
Neighbourhood = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def budget_size(num_elements: int, beta: float) -> int:
    """Number of elements region modes drop: ``round(beta * num_elements)``."""
    check_unit_interval(beta=beta)
    return int(round(beta * num_elements))


def greedy_regions(
    score: torch.Tensor,
    neighbourhood: Neighbourhood,
    budget: int,
    truncate: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cover ``budget`` elements per sample with neighbourhoods of spread, high-scoring seeds.

    Parameters
    ----------
    score : Tensor (B, E)
        Seed priority per element (higher first).
    neighbourhood : callable
        ``neighbourhood(seed)`` with ``seed`` LongTensor (B,) returns ``member`` BoolTensor (B, E)
        and ``order`` Tensor (B, E) in [0, 1) (rank inside the neighbourhood, nearest first).
    budget : int
        Elements to drop per sample, ``0 <= budget <= E``.
    truncate : bool
        Drop exactly ``budget`` elements (the last neighbourhood is cut to its nearest members)
        instead of whole neighbourhoods closest to the budget.

    Returns
    -------
    mask : BoolTensor (B, E)
        True where dropped.
    seeds : LongTensor (B, S)
        The seeds whose neighbourhoods were dropped, in the order taken; -1 pads.
    """
    b, e = score.shape
    if not 0 <= budget <= e:
        raise ValueError(f"budget must lie in [0, {e}], got {budget}")
    device = score.device
    key = torch.full((b, e), float("inf"), device=device)  # step + order of the covering region
    free = torch.ones(b, e, dtype=torch.bool, device=device)
    count = torch.zeros(b, dtype=torch.long, device=device)
    prev = torch.zeros_like(count)
    rows = torch.arange(b, device=device)
    seeds: list[torch.Tensor] = []
    masked_score = score.detach().clone()
    for step in range(e):
        active = count < budget
        if step % 4 == 0 and not bool(active.any()):  # one host sync every 4 steps
            break
        seed = masked_score.argmax(dim=1)
        member, order = neighbourhood(seed)  # fresh tensors, modified in place
        member[rows, seed] = True  # the seed always belongs to its own neighbourhood
        member &= active.unsqueeze(1)
        new = member & free
        key = torch.where(new, order.clamp_(0.0, 0.999).add_(step), key)
        free &= ~member
        masked_score.masked_fill_(~free, float("-inf"))
        prev = torch.where(active, count, prev)
        count = count + new.sum(dim=1)
        seeds.append(seed.masked_fill(~active, -1))
    seed_tensor = (
        torch.stack(seeds, dim=1) if seeds else torch.empty(b, 0, dtype=torch.long, device=device)
    )
    steps = (seed_tensor >= 0).sum(dim=1)  # active steps are a prefix of the loop
    if truncate:
        mask = torch.zeros(b, e, dtype=torch.bool, device=device)
        if budget > 0:
            vals, idx = key.topk(budget, dim=1, largest=False)
            mask.scatter_(1, idx, torch.isfinite(vals))
        used = steps
    else:
        # keep the last neighbourhood only if it brings the count closer to the budget
        drop_last = (prev - budget).abs() < (count - budget).abs()
        used = steps - drop_last.long()
        mask = key < used.unsqueeze(1).to(key.dtype)
    taken = torch.arange(seed_tensor.shape[1], device=device).unsqueeze(0) < used.unsqueeze(1)
    return mask, seed_tensor.masked_fill(~taken, -1)


def _dense(
    idx: torch.Tensor, valid: torch.Tensor | None, num: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K) neighbour indices, nearest first, with a valid-slot mask (None: all valid) ->
    dense member (B, num) bool and order (B, num) in [0, 1], 1 for non-members."""
    b, k = idx.shape
    rank = torch.arange(k, device=idx.device, dtype=torch.float32).div_(k).expand(b, k)
    # padded slots repeat a valid index: give them order 1 (= not a member) and keep the minimum
    src = rank if valid is None else rank.masked_fill(~valid, 1.0)
    order = torch.ones(b, num, device=idx.device).scatter_reduce_(1, idx, src, "amin")
    member = order < 1.0
    return member, order


def point_neighbourhood(
    xyz: torch.Tensor, k: int = defaults.REGION_K, radius: float | None = None, backend: str = "step"
) -> Neighbourhood:
    """Neighbourhood function over a point cloud: the k nearest points, or the ball of ``radius``.

    Parameters
    ----------
    xyz : Tensor (B, N, 3)
    k : int
        kNN size; with ``radius``: the most points taken from one ball (the nearest).
    radius : float, optional
        Ball radius (points strictly closer are members); None: kNN.
    backend : {"step", "auto", "torch", "cluster"}
        ``"step"`` (default): each greedy step measures the (B, N) distances to the B seeds and
        takes the k smallest (O(B N) per step, like one farthest-point-sampling step).
        Otherwise the neighbour graph of all points is built once with :func:`reldrop3d.ops.knn`
        / :func:`reldrop3d.ops.ball_query` on that backend (O(B N^2) once, then a gather per
        step); worth it only for large k (few steps) or on a GPU.
    """
    b, n, _ = xyz.shape
    rows = torch.arange(b, device=xyz.device)
    if backend == "step":
        planes = xyz.permute(2, 0, 1).contiguous()  # (3, B, N)
        r2 = None if radius is None else float(radius) ** 2

        def neighbourhood(seed: torch.Tensor):
            centre = planes[:, rows, seed].unsqueeze(-1)  # (3, B, 1)
            d2 = (planes - centre).square_().sum(0)  # (B, N)
            near, idx = d2.topk(k, dim=1, largest=False)  # nearest first
            return _dense(idx, None if r2 is None else near < r2, n)

        return neighbourhood
    if radius is None:
        graph, _ = knn(xyz, xyz, k, backend=backend)  # (B, N, k), nearest first
        valid_graph = None
    else:
        graph, cnt = ball_query(xyz, xyz, radius, k, order="nearest", backend=backend)
        valid_graph = torch.arange(graph.shape[-1], device=xyz.device) < cnt.unsqueeze(-1)

    def graph_neighbourhood(seed: torch.Tensor):
        idx = graph[rows, seed]  # (B, k)
        return _dense(idx, None if valid_graph is None else valid_graph[rows, seed], n)

    return graph_neighbourhood


def check_region_parameters(k: int, radius: float | None, num_points: int | None = None) -> None:
    """Raise ValueError for an impossible neighbourhood size or radius."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (neighbourhood size) must be a positive int, got {k!r}")
    if num_points is not None and k > num_points and radius is None:
        raise ValueError(f"k={k} exceeds the number of points N={num_points}")
    if radius is not None and not (0.0 < float(radius) < float("inf")):
        raise ValueError(f"radius must be a positive finite number, got {radius}")


def region_point_mask(
    points: torch.Tensor,
    relevance: torch.Tensor,
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    k: int = defaults.REGION_K,
    radius: float | None = None,
    truncate: bool = False,
    generator: torch.Generator | None = None,
    return_seeds: bool = False,
    backend: str = "step",
):
    """Spatially balanced RelDrop mask on point clouds (see the module docstring).

    Parameters
    ----------
    points : Tensor (B, N, C)
        The first three channels are the coordinates.
    relevance : Tensor (B, N)
    alpha, beta : float in [0, 1]
        As in the paper's rule: randomness of the seed choice, and the share of points dropped.
    k : int
        Points per kNN neighbourhood (with ``radius``: at most ``k`` points per ball, the
        nearest; pass ``k=N`` for whole balls).
    radius : float, optional
        Use balls of this radius instead of kNN neighbourhoods.
    truncate : bool
        Exact budget (cut the last neighbourhood) instead of whole neighbourhoods.
    generator : torch.Generator, optional
        On the points' device, for reproducible masks.
    return_seeds : bool
        Also return the seeds.
    backend : {"step", "auto", "torch", "cluster"}
        How neighbourhoods are found, see :func:`point_neighbourhood`.

    Returns
    -------
    mask : BoolTensor (B, N)
        True where dropped.
    seeds : LongTensor (B, S), only with ``return_seeds``
        Seed point indices in the order taken, -1 padded.
    """
    if points.dim() != 3 or points.shape[-1] < 3:
        raise ValueError(f"points must be (B, N, C>=3), got shape {tuple(points.shape)}")
    if relevance.shape != points.shape[:2]:
        raise ValueError(f"relevance {tuple(relevance.shape)} does not match points "
                         f"{tuple(points.shape)}")
    check_region_parameters(k, radius, points.shape[1])
    n = points.shape[1]
    k = min(k, n)
    score = rule_score(relevance, alpha, generator)
    xyz = points[..., :3].detach().contiguous()
    mask, seeds = greedy_regions(
        score, point_neighbourhood(xyz, k, radius, backend), budget_size(n, beta), truncate
    )
    return (mask, seeds) if return_seeds else mask
