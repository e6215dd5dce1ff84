"""Relevance of input points (and pixels) for a model's output: one front door.

``relevance(model, inputs, target, method=..., start=..., composite=...)`` dispatches on the
input's dimensions: points (B, N, C) -> (B, N), images (B, C, H, W) -> (B, H, W). Methods live in
the registry :data:`METHODS` (:mod:`.methods`), each declaring the modalities it supports:

========================== ==============================================================
``lrp``                    LRP, fast single-backward path (:mod:`.fast_lrp`); zennit where the
                           model declares a canonizer (ResNet) or the composite needs it
``lrp_epsilon``            ``lrp`` with the ``epsilon`` composite
``lrp_zennit``             the reference: the same rules through zennit (:mod:`.zennit_lrp`)
``lrp_zennit_epsilon``     ``lrp_zennit`` with the ``epsilon`` composite
``lrp_epsilon_plus_flat``  zennit: Flat input, ZPlus on convolutions, Epsilon on dense layers
``lrp_alpha_beta``         zennit: Flat input, AlphaBeta(2, 1) on convolutions, Epsilon on dense
``gradient``               norm over channels of the input gradient
``input_x_gradient``       input x gradient, summed over channels
``random``                 uniform noise (control)
========================== ==============================================================

``start`` (``"logit"``, ``"onehot"``, ``"log_softmax"``) says where relevance starts
(:mod:`.targets`); ``composite`` names the LRP rules (:mod:`.composites`).
"""

from __future__ import annotations

import torch
from torch import nn

from .baselines import gradient, input_gradient, input_x_gradient, random_relevance
from .composites import COMPOSITES, DEFAULT_COMPOSITE, LRPConfig, list_composites, resolve_composite
from .fast_lrp import fast_lrp
from .methods import METHODS, RelevanceMethod, get_method, list_methods, register_method
from .targets import STARTS, input_modality


def relevance(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor | None = None,
    method: str = "lrp",
    category: torch.Tensor | None = None,
    **kwargs,
) -> torch.Tensor:
    """Relevance of ``target`` (default: the predicted class) per point or per pixel.

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor (B, N, C) points or (B, C, H, W) images
    target : Tensor (B,) or (B, N), optional
        Class per sample, or part per point (part segmenters).
    method : str
        A registered method (:func:`list_methods`) supporting the input's modality.
    category : Tensor (B,), optional
        Object category (part segmenters).
    **kwargs
        Passed to the method: ``start`` (``"logit"`` default, ``"onehot"``, ``"log_softmax"``),
        ``composite`` (LRP methods: a name of :data:`COMPOSITES` or an :class:`LRPConfig`;
        default ``"epsilon-flat"``), ``generator`` (``random``).

    Returns
    -------
    Tensor (B, N) or (B, H, W), detached, on the inputs' device. The model's training flags are
    unchanged and no parameter's ``.grad`` is touched.
    """
    modality = input_modality(inputs)
    entry = get_method(method)
    if modality not in entry.modalities:
        raise ValueError(
            f"relevance method {method!r} supports {', '.join(entry.modalities)}, not {modality} "
            f"(input shape {tuple(inputs.shape)}); methods for {modality}: {list_methods(modality)}"
        )
    kind = getattr(model, "input_kind", None)
    if kind == "image" and modality != "images":
        raise ValueError(f"{type(model).__name__} explains images (B, C, H, W), got shape {tuple(inputs.shape)}")
    return entry(model, inputs, target, category, **kwargs)


__all__ = [
    "COMPOSITES", "DEFAULT_COMPOSITE", "METHODS", "STARTS", "LRPConfig", "RelevanceMethod",
    "fast_lrp", "get_method", "gradient", "input_gradient", "input_x_gradient",
    "list_composites", "list_methods", "random_relevance", "register_method", "relevance",
    "resolve_composite",
]
