"""How widely relevance is spread over a cloud (RelDrop should make models use more of a shape).

All metrics use the positive part of the relevance, normalised per sample to sum to 1 (a sample
without positive relevance counts as uniform).
"""

from __future__ import annotations

import math

import torch


def _distribution(relevance: torch.Tensor) -> torch.Tensor:
    """Positive relevance (B, N) normalised to a distribution per sample."""
    if relevance.dim() != 2:
        raise ValueError(f"relevance must be (B, N), got {tuple(relevance.shape)}")
    pos = relevance.double().clamp(min=0)
    total = pos.sum(1, keepdim=True)
    uniform = torch.full_like(pos, 1.0 / pos.shape[1])
    return torch.where(total > 0, pos / total.clamp(min=1e-300), uniform)


def relevance_entropy(relevance: torch.Tensor) -> torch.Tensor:
    """Normalised Shannon entropy in [0, 1] per sample (1 = spread uniformly), (B, N) -> (B,)."""
    p = _distribution(relevance)
    h = -(p * torch.log(p.clamp(min=1e-300))).sum(1)
    return h / math.log(p.shape[1])


def relevance_gini(relevance: torch.Tensor) -> torch.Tensor:
    """Gini coefficient in [0, 1) per sample (0 = uniform, -> 1 = one point), (B, N) -> (B,)."""
    p = _distribution(relevance).sort(1).values
    n = p.shape[1]
    i = torch.arange(1, n + 1, dtype=p.dtype, device=p.device)
    return ((2 * i - n - 1) * p).sum(1) / n


def share_for_mass(relevance: torch.Tensor, mass: float = 0.9) -> torch.Tensor:
    """Smallest share of points that holds ``mass`` of the positive relevance, (B, N) -> (B,)."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass must lie in (0, 1], got {mass}")
    p = _distribution(relevance).sort(1, descending=True).values
    k = (p.cumsum(1) < mass - 1e-12).sum(1) + 1
    return k.double() / p.shape[1]


def spread_metrics(relevance: torch.Tensor) -> dict[str, float]:
    """Means over the batch of entropy, Gini and the share of points holding 90% of relevance."""
    return {
        "entropy": relevance_entropy(relevance).mean().item(),
        "gini": relevance_gini(relevance).mean().item(),
        "share_90": share_for_mass(relevance, 0.9).mean().item(),
    }
