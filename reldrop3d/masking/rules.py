"""Which elements to drop: the RelDrop paper's rule and the random baselines.

All functions work on any element layout ``(B, *S)`` (points: ``S = (N,)``; pixels:
``S = (H, W)``), vectorised over the batch, on the input's device, without host round trips.
"""

from __future__ import annotations

import torch


def check_unit_interval(**values: float) -> None:
    """Raise ValueError unless every value lies in [0, 1]."""
    for name, v in values.items():
        if not (0.0 <= float(v) <= 1.0):
            raise ValueError(f"{name} must lie in [0, 1], got {v}")


def minmax_normalize(relevance: torch.Tensor) -> torch.Tensor:
    """Per-sample min-max normalisation to [0, 1].

    Parameters
    ----------
    relevance : Tensor (B, *S)

    Returns
    -------
    Tensor (B, *S) in [0, 1]. A constant sample maps to all zeros (no NaN). Non-finite relevance
    raises ValueError on the CPU (on a GPU the check would cost a host round trip; NaN elements
    are then never dropped).
    """
    if relevance.dim() < 2:
        raise ValueError(f"relevance must be (B, ...), got shape {tuple(relevance.shape)}")
    flat = relevance.flatten(1)
    if not flat.is_floating_point():
        flat = flat.float()
    lo, hi = torch.aminmax(flat, dim=1, keepdim=True)
    span = hi - lo
    if span.device.type == "cpu" and not torch.isfinite(span).all():
        # checked on the CPU only: on a GPU this would be a host round trip per batch
        raise ValueError("relevance contains NaN or inf")
    # a constant sample has span 0 and numerator 0: divide by a tiny number instead -> 0
    return ((flat - lo) / span.clamp_min(torch.finfo(flat.dtype).tiny)).view_as(relevance)


def reldrop_mask(
    relevance: torch.Tensor,
    alpha: float,
    beta: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The RelDrop rule: drop where ``alpha * u + (1 - alpha) * R_norm >= 1 - beta``.

    Parameters
    ----------
    relevance : Tensor (B, *S)
        Relevance per element (point or pixel).
    alpha : float in [0, 1]
        Share of randomness: 1 gives random dropout at rate ``beta``, 0 drops deterministically
        every element with ``R_norm >= 1 - beta``.
    beta : float in [0, 1]
        Aggressiveness: larger drops more.
    generator : torch.Generator, optional
        For reproducible draws of ``u ~ U(0, 1)``.

    Returns
    -------
    BoolTensor (B, *S): True where the element is dropped.
    """
    check_unit_interval(alpha=alpha, beta=beta)
    r = minmax_normalize(relevance)
    u = torch.rand(r.shape, generator=generator, device=r.device, dtype=r.dtype)
    # alpha * u + (1 - alpha) * r >= 1 - beta; r is a fresh tensor, scaled in place
    return torch.add(r.mul_(1.0 - alpha), u, alpha=alpha) >= 1.0 - beta


def expected_drop_rate(relevance_norm: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """Expected share of dropped elements per sample under :func:`reldrop_mask`.

    ``P(alpha * u + (1 - alpha) * r >= 1 - beta) = clip((alpha - (1 - beta) + (1 - alpha) r) / alpha, 0, 1)``
    for ``alpha > 0``; for ``alpha == 0`` it is the indicator ``r >= 1 - beta``.

    Parameters
    ----------
    relevance_norm : Tensor (B, *S) in [0, 1]

    Returns
    -------
    Tensor (B,)
    """
    r = relevance_norm.flatten(1).double()
    if alpha == 0:
        p = (r >= 1 - beta).double()
    else:
        p = ((alpha - (1 - beta) + (1 - alpha) * r) / alpha).clamp(0, 1)
    return p.mean(dim=1)


def random_dropout_mask(
    shape: tuple[int, ...],
    max_ratio: float = 0.875,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """PointNet++'s random input dropout: per sample a ratio ``~ U(0, max_ratio)``, each element
    dropped with that probability.

    Parameters
    ----------
    shape : tuple (B, *S)
    max_ratio : float in [0, 1)

    Returns
    -------
    BoolTensor (B, *S): True where dropped.
    """
    if not 0.0 <= max_ratio < 1.0:
        raise ValueError(f"max_ratio must lie in [0, 1), got {max_ratio}")
    b = shape[0]
    ratio = torch.rand(b, generator=generator, device=device) * max_ratio
    u = torch.rand(shape, generator=generator, device=device)
    return u < ratio.view(b, *([1] * (len(shape) - 1)))
