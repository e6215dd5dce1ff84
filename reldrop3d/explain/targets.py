"""Running a model for attribution, the input's modality, and where relevance starts.

Where relevance starts (``start``)
----------------------------------
``"logit"``
    The explained quantity is the target logit ``z_t``; LRP starts with ``R = z_t`` at the target
    logit (and 0 at the others), so relevance sums to ``z_t`` (with zero biases). Every rule is
    linear in the relevance it receives, so this map is exactly ``z_t`` times the ``onehot``
    map: for samples with ``z_t < 0`` it is the ``onehot`` map negated, and its per-sample
    min-max normalisation is ``1 -`` that of the ``onehot`` map.
``"onehot"``
    ``R = 1`` at the target logit: zennit's ``Gradient`` attributor with a one-hot
    ``grad_output`` on a model that outputs logits (the official 2D RelDrop code).
``"log_softmax"``
    The official 3D RelDrop code: its point models output ``log_softmax(z)`` and zennit is given
    a one-hot ``grad_output`` there. ``log_softmax`` is not a module, so zennit back-propagates
    through it as a plain gradient and the logits receive ``e_t - softmax(z)`` as their initial
    relevance. By linearity the map is ``sum_k (delta_tk - p_k) R_onehot(k)``: the target's
    ``onehot`` map weighted by ``1 - p_t > 0``, minus the other classes' maps weighted by their
    probabilities.

Gradient-based methods explain ``z_t`` (``logit``, ``onehot``) or ``log p_t`` (``log_softmax``):
their ``grad_output`` at the logits is :func:`explained_gradient`.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def forward_model(
    model: nn.Module,
    points: torch.Tensor,
    category: torch.Tensor | None = None,
    parameters: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """``model(points)`` or, for part segmenters, ``model(points, category)``; with
    ``parameters`` (qualified name -> tensor), those parameters are replaced for this call
    (:func:`torch.func.functional_call`)."""
    args = (points,)
    if getattr(model, "task", "cls") == "partseg":
        if category is None:
            raise ValueError("relevance of a part segmenter needs the category labels (B,)")
        args = (points, category)
    if parameters:
        return torch.func.functional_call(model, parameters, args, strict=False)
    return model(*args)


def select_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The target logit of every sample (B,) or of every point (B, N) (part segmenters)."""
    if logits.dim() == 2:
        if target.shape != logits.shape[:1]:
            raise ValueError(f"target must be (B,) = {tuple(logits.shape[:1])}, got {tuple(target.shape)}")
        return logits.gather(1, target[:, None]).squeeze(1)
    if logits.dim() == 3:
        if target.shape != logits.shape[:2]:
            raise ValueError(f"target must be (B, N) = {tuple(logits.shape[:2])}, got {tuple(target.shape)}")
        return logits.gather(2, target[..., None]).squeeze(2)
    raise ValueError(f"cannot select a target from logits of shape {tuple(logits.shape)}")


def select_output(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample explained score: the target logit.

    Parameters
    ----------
    logits : Tensor (B, K) or (B, N, P)
        Classifier logits, or per-point part logits.
    target : Tensor (B,) or (B, N), int64
        Class per sample, or part label per point (the explained score is then the sum over points
        of each point's target-part logit).

    Returns
    -------
    Tensor (B,)
    """
    sel = select_logits(logits, target)
    return sel if sel.dim() == 1 else sel.sum(1)


def default_target(logits: torch.Tensor) -> torch.Tensor:
    """The predicted class (B,) or part per point (B, N)."""
    return logits.argmax(dim=-1)


STARTS = ("logit", "onehot", "log_softmax")
MODALITIES = {3: "points", 4: "images"}


def input_modality(inputs: torch.Tensor) -> str:
    """``"points"`` for (B, N, C), ``"images"`` for (B, C, H, W)."""
    if inputs.dim() not in MODALITIES:
        raise ValueError(
            f"relevance needs points (B, N, C) or images (B, C, H, W), got shape {tuple(inputs.shape)}"
        )
    return MODALITIES[inputs.dim()]


def channel_dim(inputs: torch.Tensor) -> int:
    """The channel dimension of the input: -1 for points (B, N, C), 1 for images (B, C, H, W)."""
    return -1 if input_modality(inputs) == "points" else 1


def check_start(start: str) -> str:
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    return start


def _one_hot(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    select_logits(logits, target)  # shape checks
    return torch.zeros_like(logits).scatter_(-1, target.unsqueeze(-1), 1.0)


def explained_gradient(logits: torch.Tensor, target: torch.Tensor, start: str = "logit") -> torch.Tensor:
    """Gradient of the explained quantity at the logits, same shape as ``logits`` (detached).

    ``e_t`` for ``logit`` and ``onehot`` (the quantity is ``z_t``), ``e_t - softmax(z)`` for
    ``log_softmax`` (the quantity is ``log p_t``); per point for part segmenters (B, N, P).
    """
    check_start(start)
    logits = logits.detach()
    onehot = _one_hot(logits, target)
    if start == "log_softmax":
        return onehot - torch.softmax(logits, dim=-1)
    return onehot


def initial_relevance(logits: torch.Tensor, target: torch.Tensor, start: str = "logit") -> torch.Tensor:
    """LRP's relevance at the logits, same shape as ``logits`` (detached).

    ``z_t e_t`` (``logit``), ``e_t`` (``onehot``), ``e_t - softmax(z)`` (``log_softmax``).
    """
    grad = explained_gradient(logits, target, start)
    return grad * logits.detach() if start == "logit" else grad


@contextlib.contextmanager
def eval_mode(model: nn.Module, enabled: bool = True):
    """Temporarily put ``model`` in eval mode; restores each submodule's own training flag."""
    if not enabled:
        yield model
        return
    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags.items():
            m.training = flag
