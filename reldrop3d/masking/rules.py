"""Which elements to drop: the RelDrop paper's rule and the random baselines.

All functions work on any element layout ``(B, *S)`` (points: ``S = (N,)``; pixels:
``S = (H, W)``), vectorised over the batch, on the input's device, without host round trips.
"""

from __future__ import annotations

import torch

from . import defaults
from .modes import register_mode


def check_unit_interval(**values: float) -> None:
    """Raise ValueError unless every value lies in [0, 1]."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")


def check_finite(values: torch.Tensor, name: str, index: torch.Tensor | None = None) -> None:
    """Raise ValueError naming the first sample of ``values`` (B, ...) with NaN or inf
    (with ``index`` (B,): row ``j`` is sample ``index[j]`` of the batch).

    Fills such as ``centroid``, ``mean`` and ``resample`` would copy one NaN point into every
    dropped point, and a NaN relevance makes the rule meaningless, so the mask API refuses them.
    Costs one host round trip per call on a GPU.
    """
    if not values.is_floating_point() or values.numel() == 0:
        return
    bad = ~torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        j = int(bad.nonzero()[0, 0])
        kind = "NaN" if bool(torch.isnan(values[j]).any()) else "inf"
        i = j if index is None else int(index[j])
        verb = "contains" if name == "relevance" else "contain"
        raise ValueError(f"{name} {verb} {kind} at sample {i}")


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


def rule_score(
    relevance: torch.Tensor, alpha: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The RelDrop rule's score ``alpha * u + (1 - alpha) * R_norm`` per element.

    Parameters
    ----------
    relevance : Tensor (B, *S)
    alpha : float in [0, 1]
    generator : torch.Generator, optional
        On the relevance's device, for reproducible draws of ``u ~ U(0, 1)``.

    Returns
    -------
    Tensor (B, *S) in [0, 1]; the paper's rule drops where it is ``>= 1 - beta``
    (:func:`reldrop_mask`), region modes take their seeds in decreasing score.
    """
    check_unit_interval(alpha=alpha)
    r = minmax_normalize(relevance)
    u = torch.rand(r.shape, generator=generator, device=r.device, dtype=r.dtype)
    # r is a fresh tensor: scale it in place
    return torch.add(r.mul_(1.0 - alpha), u, alpha=alpha)


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
    check_unit_interval(beta=beta)
    return rule_score(relevance, alpha, generator) >= 1.0 - beta


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
    max_ratio: float = defaults.RANDOM_MAX_RATIO,
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
    check_max_ratio(max_ratio)
    b = shape[0]
    ratio = torch.rand(b, generator=generator, device=device) * max_ratio
    u = torch.rand(shape, generator=generator, device=device)
    return u < ratio.view(b, *([1] * (len(shape) - 1)))


def check_max_ratio(max_ratio: float) -> None:
    """Raise ValueError unless ``0 <= max_ratio < 1``."""
    if isinstance(max_ratio, bool) or not isinstance(max_ratio, (int, float)) or not (
        0.0 <= max_ratio < 1.0
    ):
        raise ValueError(f"max_ratio must lie in [0, 1), got {max_ratio!r}")


def check_rule(alpha: float, beta: float) -> None:
    """Raise ValueError unless the rule's ``alpha`` and ``beta`` lie in [0, 1]."""
    check_unit_interval(alpha=alpha, beta=beta)


@register_mode("point", inputs=("points",), check=check_rule, alpha=defaults.ALPHA,
               beta=defaults.BETA)
def point_mode(x, relevance, generator=None, *, alpha, beta):
    """the paper's rule per point: drop where ``alpha*u + (1-alpha)*R_norm >= 1-beta``"""
    return reldrop_mask(relevance, alpha, beta, generator)


@register_mode("pixel", inputs=("images",), check=check_rule, alpha=defaults.ALPHA,
               beta=defaults.BETA)
def pixel_mode(x, relevance, generator=None, *, alpha, beta):
    """the paper's rule per pixel (the official 2D ``pixel`` RelDrop)"""
    return reldrop_mask(relevance, alpha, beta, generator)


@register_mode("random", inputs=("points", "images"), uses_relevance=False,
               check=check_max_ratio, max_ratio=defaults.RANDOM_MAX_RATIO)
def random_mode(x, relevance=None, generator=None, *, max_ratio):
    """PointNet++'s random input dropout: per sample a ratio ``~ U(0, max_ratio)``, each point
    (pixel) dropped with that probability; relevance is not used"""
    shape = x.shape[:2] if x.dim() == 3 else (x.shape[0], *x.shape[2:])
    return random_dropout_mask(tuple(shape), max_ratio, x.device, generator)
