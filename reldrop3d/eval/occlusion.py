"""Occlusion evaluation: accuracy after removing the most relevant, least relevant or random points."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data import batch_to_input
from ..explain import relevance

OCCLUSION_ORDERS = ("most", "least", "random")


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
def occlusion_accuracy(
    model: nn.Module,
    dataset,
    fractions: list[float],
    orders: tuple[str, ...] = OCCLUSION_ORDERS,
    method: str = "lrp",
    batch_size: int = 32,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, list[float]]:
    """Accuracy after removing a fraction of each cloud's points, per removal order.

    Relevance is computed once per sample for its true class on the clean cloud.

    Parameters
    ----------
    fractions : list of float in [0, 1)
    orders : subset of ("most", "least", "random")

    Returns
    -------
    dict order -> list of accuracies, one per fraction.
    """
    bad = [o for o in orders if o not in OCCLUSION_ORDERS]
    if bad:
        raise ValueError(f"unknown occlusion orders {bad}; choose from {OCCLUSION_ORDERS}")
    model.eval().to(device)
    gen = torch.Generator().manual_seed(seed)
    correct = {o: torch.zeros(len(fractions), dtype=torch.float64) for o in orders}
    total = 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = batch_to_input(batch).to(device)
        y = batch["label"].to(device)
        with torch.enable_grad():
            r = relevance(model, x, y, method=method)
        n = x.shape[1]
        scores = {"most": r, "least": -r, "random": torch.rand(r.shape, generator=gen).to(device)}
        for o in orders:
            for i, f in enumerate(fractions):
                xk = remove_points(x, scores[o], int(round(f * n)))
                correct[o][i] += (model(xk).argmax(-1) == y).sum().item()
        total += y.numel()
    return {o: (c / max(total, 1)).tolist() for o, c in correct.items()}
