"""Relevance of input points (and pixels) for a model's output.

``relevance(model, points, target, method=...)`` returns (B, N). Methods:

============== ===================================================================
``lrp``         LRP, fast single-backward path (:mod:`.fast_lrp`); default rules:
                Flat on the input layers, Epsilon elsewhere, BatchNorm merged
``lrp_epsilon`` the same with Epsilon on the input layers too
``lrp_zennit``  the reference: the same rules through zennit (:mod:`.zennit_lrp`)
``lrp_epsilon_plus_flat``  zennit: Flat input, ZPlus on convolutions, Epsilon on dense layers
``lrp_alpha_beta``  zennit: Flat input, AlphaBeta(2, 1) on convolutions, Epsilon on dense layers
``gradient``    norm of the input gradient
``input_x_gradient``
``random``      uniform noise (control)
============== ===================================================================
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .baselines import gradient, input_x_gradient, random_relevance
from .fast_lrp import DEFAULT_CONFIG, LRPConfig, fast_lrp


def _zennit(model, points, target=None, category=None, config=DEFAULT_CONFIG):
    from .zennit_lrp import zennit_lrp  # zennit imported only when used

    return zennit_lrp(model, points, target, category, config=config)


METHODS = {
    "lrp": fast_lrp,
    "lrp_epsilon": functools.partial(fast_lrp, config=LRPConfig(input_rule="epsilon")),
    "lrp_zennit": _zennit,
    "lrp_zennit_epsilon": functools.partial(_zennit, config=LRPConfig(input_rule="epsilon")),
    "lrp_epsilon_plus_flat": functools.partial(_zennit, config=LRPConfig(conv_rule="zplus")),
    "lrp_alpha_beta": functools.partial(_zennit, config=LRPConfig(conv_rule="alpha_beta")),
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "random": random_relevance,
}


def relevance(
    model: nn.Module,
    points: torch.Tensor,
    target: torch.Tensor | None = None,
    method: str = "lrp",
    category: torch.Tensor | None = None,
    **kwargs,
) -> torch.Tensor:
    """Per-point relevance of ``target`` (default: the predicted class).

    Parameters
    ----------
    model : nn.Module
    points : Tensor (B, N, C)
    target : Tensor (B,) or (B, N), optional
    method : str
        One of :data:`METHODS`.
    category : Tensor (B,), optional
        Object category (part segmenters).

    Returns
    -------
    Tensor (B, N), detached, on the points' device. The model's training flags are unchanged.
    """
    if method not in METHODS:
        raise ValueError(f"unknown relevance method {method!r}; choose from {sorted(METHODS)}")
    return METHODS[method](model, points, target, category, **kwargs)


__all__ = ["METHODS", "LRPConfig", "fast_lrp", "gradient", "input_x_gradient", "random_relevance", "relevance"]
