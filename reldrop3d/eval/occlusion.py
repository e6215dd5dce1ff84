"""Occlusion evaluation: accuracy after removing the most relevant, least relevant or random points."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data import batch_to_input
from ..explain import relevance

OCCLUSION_ORDERS = ("most", "least", "random")
OCCLUSION_MODES = ("point", "region")


def region_scores(points: torch.Tensor, scores: torch.Tensor, k: int = 32) -> torch.Tensor:
    """Smooth per-point scores over kNN neighbourhoods: (B, N, C), (B, N) -> (B, N).

    Removing points by the smoothed score takes away whole regions (the neighbourhoods of the
    highest-scoring points) instead of scattered single points.
    """
    from ..ops import knn

    xyz = points[..., :3].contiguous()
    idx, _ = knn(xyz, xyz, min(k, xyz.shape[1]))
    return scores.gather(1, idx.flatten(1)).view_as(idx.float()).mean(-1)


def remove_points(points: torch.Tensor, scores: torch.Tensor, k: int) -> torch.Tensor:
    """Remove the ``k`` highest-scoring points of every sample.

    Parameters
    ----------
    points : Tensor (B, N, C)
    scores : Tensor (B, N)
    k : int, 0 <= k < N

    Returns
    -------
    Tensor (B, N - k, C): the kept points, in their original order.
    """
    b, n, c = points.shape
    if not 0 <= k < n:
        raise ValueError(f"can remove 0 <= k < N = {n} points, asked for {k}")
    if k == 0:
        return points
    keep = scores.topk(n - k, dim=1, largest=False).indices.sort(dim=1).values
    return points.gather(1, keep.unsqueeze(-1).expand(-1, -1, c))


@torch.no_grad()
def occlusion_correct(
    model: nn.Module,
    dataset,
    fractions: list[float],
    orders: tuple[str, ...] = OCCLUSION_ORDERS,
    method: str = "lrp",
    batch_size: int = 32,
    seed: int = 0,
    device: str | torch.device = "cpu",
    mode: str = "point",
    k: int = 32,
) -> dict[str, torch.Tensor]:
    """Per shape: is it still classified correctly after removing a fraction of its points?

    Relevance is computed once per sample for its true class on the clean cloud; random
    removal draws its scores from a generator seeded with ``seed``.

    Parameters
    ----------
    fractions : list of float in [0, 1)
    orders : subset of ("most", "least", "random")
    mode : {"point", "region"}
        ``point`` removes single points by their score; ``region`` by the score averaged over
        each point's k nearest neighbours (:func:`region_scores`), so whole regions go.

    Returns
    -------
    dict order -> BoolTensor (len(fractions), M): correct per fraction and test shape (in the
    data set's order).
    """
    if mode not in OCCLUSION_MODES:
        raise ValueError(f"unknown occlusion mode {mode!r}; choose from {OCCLUSION_MODES}")
    bad = [o for o in orders if o not in OCCLUSION_ORDERS]
    if bad:
        raise ValueError(f"unknown occlusion orders {bad}; choose from {OCCLUSION_ORDERS}")
    model.eval().to(device)
    gen = torch.Generator().manual_seed(seed)
    correct: dict[str, list[torch.Tensor]] = {o: [] for o in orders}
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = batch_to_input(batch).to(device)
        y = batch["label"].to(device)
        with torch.enable_grad():
            r = relevance(model, x, y, method=method)
        n = x.shape[1]
        scores = {"most": r, "least": -r, "random": torch.rand(r.shape, generator=gen).to(device)}
        if mode == "region":
            scores = {o: region_scores(x, s, k) for o, s in scores.items()}
        for o in orders:
            correct[o].append(torch.stack([
                (model(remove_points(x, scores[o], int(round(f * n)))).argmax(-1) == y).cpu()
                for f in fractions]))
    empty = torch.zeros(len(fractions), 0, dtype=torch.bool)
    return {o: torch.cat(c, 1) if c else empty for o, c in correct.items()}


def occlusion_accuracy(
    model: nn.Module,
    dataset,
    fractions: list[float],
    orders: tuple[str, ...] = OCCLUSION_ORDERS,
    method: str = "lrp",
    batch_size: int = 32,
    seed: int = 0,
    device: str | torch.device = "cpu",
    mode: str = "point",
    k: int = 32,
) -> dict[str, list[float]]:
    """Accuracy after removing a fraction of each cloud's points, per removal order: the mean
    over the test shapes of :func:`occlusion_correct` (same parameters).

    Returns
    -------
    dict order -> list of accuracies, one per fraction.
    """
    correct = occlusion_correct(model, dataset, fractions, orders, method, batch_size, seed,
                                device, mode, k)
    return {o: (c.double().sum(1) / max(c.shape[1], 1)).tolist() for o, c in correct.items()}
