"""The registry of relevance methods behind :func:`reldrop3d.explain.relevance`.

Each entry is a :class:`RelevanceMethod`: a function ``(model, inputs, target, category, **kw)``
and the modalities it supports (``"points"``: (B, N, C) -> (B, N); ``"images"``:
(B, C, H, W) -> (B, H, W)). Register new ones with :func:`register_method`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..utils.registry import Registry
from .baselines import gradient, input_x_gradient, random_relevance
from .composites import LRPConfig, resolve_composite
from .fast_lrp import fast_lrp

ALL_MODALITIES = ("points", "images")


@dataclass(frozen=True)
class RelevanceMethod:
    """A registered relevance method.

    Attributes
    ----------
    fn : callable
        ``fn(model, inputs, target, category, **kwargs) -> relevance``.
    modalities : tuple of str
        Input kinds it supports (``"points"``, ``"images"``).
    description : str
    fixed : dict
        Keyword arguments the method fixes (e.g. its composite); passing them again is an error.
    """

    fn: Callable
    modalities: tuple[str, ...] = ALL_MODALITIES
    description: str = ""
    fixed: dict = field(default_factory=dict)

    def __call__(self, model, inputs, target=None, category=None, **kwargs):
        clash = sorted(set(kwargs) & set(self.fixed))
        if clash:
            raise TypeError(f"this relevance method fixes {clash}; use 'lrp' or 'lrp_zennit' to choose them")
        return self.fn(model, inputs, target, category, **self.fixed, **kwargs)


METHODS = Registry("relevance method")


def register_method(
    name: str,
    fn: Callable,
    modalities: tuple[str, ...] = ALL_MODALITIES,
    description: str = "",
    **fixed,
) -> RelevanceMethod:
    """Register ``fn`` as relevance method ``name`` (keyword arguments in ``fixed`` are bound)."""
    unknown = sorted(set(modalities) - set(ALL_MODALITIES))
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {ALL_MODALITIES}, got {modalities}")
    method = RelevanceMethod(fn, tuple(modalities), description, dict(fixed))
    METHODS.register(name)(method)
    return method


def get_method(name: str) -> RelevanceMethod:
    try:
        return METHODS.get(name)
    except KeyError as err:
        raise ValueError(f"unknown relevance method {name!r}; choose from {METHODS.names()}") from err


def list_methods(modality: str | None = None) -> list[str]:
    """Registered method names (those supporting ``modality`` if given)."""
    return [n for n in METHODS.names() if modality is None or modality in METHODS.get(n).modalities]


def uses_zennit(model: nn.Module, config: LRPConfig) -> bool:
    """Whether LRP of ``model`` under ``config`` needs zennit: the model declares a zennit
    canonizer (``lrp_canonizer``, e.g. ResNet's residual additions) or the rules are not
    implemented by the fast path (``config.fast``)."""
    return getattr(model, "lrp_canonizer", None) is not None or not config.fast


def zennit_relevance(model, inputs, target=None, category=None, composite=None, start="logit", **kw):
    """LRP through zennit (:func:`.zennit_lrp.zennit_lrp`); zennit is imported only when used."""
    from .zennit_lrp import zennit_lrp

    return zennit_lrp(model, inputs, target, category, config=resolve_composite(composite), start=start, **kw)


def lrp_relevance(model, inputs, target=None, category=None, composite=None, start="logit", **kw):
    """LRP: the fast single-backward path, or zennit where :func:`uses_zennit` says so."""
    config = resolve_composite(composite)
    if uses_zennit(model, config):
        return zennit_relevance(model, inputs, target, category, config, start, **kw)
    return fast_lrp(model, inputs, target, category, config=config, start=start, **kw)


register_method("lrp", lrp_relevance, description="LRP, fast single-backward path (zennit where the "
                "model or composite needs it); composite= names the rules (default epsilon-flat)")
register_method("lrp_epsilon", lrp_relevance, description="lrp with the 'epsilon' composite",
                composite="epsilon")
register_method("lrp_zennit", zennit_relevance, description="the reference: the same rules through zennit")
register_method("lrp_zennit_epsilon", zennit_relevance, description="lrp_zennit, 'epsilon' composite",
                composite="epsilon")
register_method("lrp_epsilon_plus_flat", zennit_relevance, composite="epsilon-plus-flat",
                description="zennit: Flat input, ZPlus on convolutions, Epsilon on dense layers")
register_method("lrp_alpha_beta", zennit_relevance, composite="epsilon-alpha2-beta1-flat",
                description="zennit: Flat input, AlphaBeta(2, 1) on convolutions, Epsilon on dense layers")
register_method("gradient", gradient, description="L2 norm over channels of the input gradient")
register_method("input_x_gradient", input_x_gradient, description="input x gradient, summed over channels")


def _random(model, inputs, target=None, category=None, start="logit", generator=None):
    return random_relevance(model, inputs, target, category, generator=generator)


register_method("random", _random, description="uniform noise (control)")
