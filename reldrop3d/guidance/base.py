"""What every guidance loss shares: the call signature, ROI checks and the input-gradient graph.

A guidance loss is called as ``loss_fn(model, x, target, roi, logits=None, category=None)`` and
returns a scalar (the *unweighted* penalty; the trainer multiplies it by ``--guidance-weight``):

* ``x``: points (B, N, C) channels-last, or images (B, C, H, W);
* ``target``: (B,) class labels (or (B, N) part labels for part segmenters);
* ``roi``: bool (B, N) for points or (B, H, W) for images, True on the region of interest;
* ``logits``: the trainer's own forward output. Losses with ``needs_input_grad = True`` reuse it
  (no second forward) when ``x`` required grad during that forward; otherwise they run their own.
"""

from __future__ import annotations

import contextlib
import types

import torch
from torch import nn

from ..explain.targets import forward_model


def element_layout(x: torch.Tensor, roi: torch.Tensor) -> str:
    """Check that ``roi`` matches ``x`` and return ``"points"`` or ``"images"``.

    Parameters
    ----------
    x : Tensor (B, N, C) or (B, C, H, W)
    roi : BoolTensor (B, N) or (B, H, W)

    Raises
    ------
    ValueError
        Wrong dimensions, a shape mismatch or a non-boolean mask.
    """
    if not isinstance(roi, torch.Tensor) or roi.dtype != torch.bool:
        raise ValueError(
            f"roi must be a bool tensor (True = region of interest), got "
            f"{getattr(roi, 'dtype', type(roi).__name__)}"
        )
    if x.dim() == 3 and roi.shape == x.shape[:2]:
        return "points"
    if x.dim() == 4 and roi.shape == (x.shape[0], *x.shape[2:]):
        return "images"
    raise ValueError(
        f"roi {tuple(roi.shape)} does not match the input {tuple(x.shape)}: expected (B, N) for "
        "points (B, N, C) or (B, H, W) for images (B, C, H, W)"
    )


def channel_sum(t: torch.Tensor, layout: str) -> torch.Tensor:
    """Sum a per-channel map over its channels: (B, N, C) -> (B, N) or (B, C, H, W) -> (B, H, W)."""
    return t.sum(dim=-1) if layout == "points" else t.sum(dim=1)


def forward_with_input_grad(
    model: nn.Module,
    x: torch.Tensor,
    logits: torch.Tensor | None = None,
    category: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, logits)`` such that ``logits`` depends differentiably on ``x``.

    Reuses the caller's ``logits`` when ``x`` already required grad when they were computed (the
    trainer then pays for one forward only); otherwise runs ``model`` on a leaf copy of ``x`` that
    requires grad, in the model's current mode, leaving BatchNorm running statistics untouched
    (the trainer's own forward updates them once per step).

    Parameters
    ----------
    model : nn.Module
    x : Tensor (B, N, C) or (B, C, H, W)
    logits : Tensor (B, K) or (B, N, P), optional
    category : Tensor (B,), optional (part segmenters)
    """
    if logits is not None and x.requires_grad and logits.requires_grad:
        return x, logits
    x = x.detach().requires_grad_(True)
    with torch.enable_grad(), frozen_batchnorm_stats(model):
        return x, forward_model(model, x, category)


def input_grad(output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``d output.sum() / d x`` with ``create_graph=True`` (so the result can be penalised)."""
    (g,) = torch.autograd.grad(output.sum(), x, create_graph=True)
    return g


@contextlib.contextmanager
def frozen_batchnorm_stats(model: nn.Module):
    """Forward passes inside this context leave BatchNorm running statistics unchanged
    (momentum 0); the batch statistics are still used in train mode."""
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is not None:
            saved.append((m, m.momentum, m.num_batches_tracked.clone()))
            m.momentum = 0.0
    try:
        yield model
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def _batchnorm_with_constant_statistics(self, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():  # the batch statistics, by BatchNorm's own (fast) kernel
        _, mean, invstd = torch.native_batch_norm(x, None, None, None, None, True, 0.0, self.eps)
    # an explicit per-channel affine map: its backward and double backward are plain products
    # (autograd's batch-norm double backward is far costlier, even in eval mode)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    scale = invstd if self.weight is None else self.weight * invstd
    shift = -mean * scale if self.bias is None else self.bias - mean * scale
    return torch.addcmul(shift.view(shape), x, scale.view(shape))


@contextlib.contextmanager
def batch_statistics_as_constants(model: nn.Module):
    """BatchNorm layers in train mode normalise with the batch's statistics *as constants*.

    Forward values are those of train mode, running statistics stay unchanged, but no gradient
    flows through the batch mean and variance: each layer is a per-channel affine map, as LRP
    treats it (zennit merges BatchNorm into the preceding layer the same way). Relevance then
    stays within each sample (train-mode BatchNorm's backward mixes the samples of a batch), and
    differentiating an LRP heat-map (ISNet) avoids BatchNorm's costly double backward (42 % of an
    ISNet step before).
    """
    patched = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            m.forward = types.MethodType(_batchnorm_with_constant_statistics, m)
            patched.append(m)
    try:
        yield model
    finally:
        for m in patched:
            del m.forward


class GuidanceLoss:
    """Base class: ``loss_fn(model, x, target, roi, logits=None, category=None) -> scalar``.

    Subclasses implement :meth:`penalty`. Class attributes:

    Attributes
    ----------
    name : str
        Registry name.
    needs_input_grad : bool
        The loss differentiates the model output w.r.t. the input: the trainer may set
        ``x.requires_grad_(True)`` before its forward and pass ``logits`` to save a forward.
    """

    name = "base"
    needs_input_grad = False

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        target: torch.Tensor,
        roi: torch.Tensor,
        logits: torch.Tensor | None = None,
        category: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The penalty (scalar tensor, differentiable w.r.t. the model parameters).

        Parameters
        ----------
        model : nn.Module
        x : Tensor (B, N, C) points or (B, C, H, W) images
        target : LongTensor (B,) or (B, N)
        roi : BoolTensor (B, N) or (B, H, W), True = region of interest
        logits : Tensor, optional
            The trainer's forward output on ``x`` (see :func:`forward_with_input_grad`).
        category : LongTensor (B,), optional
            Object category, for part segmenters.
        """
        layout = element_layout(x, roi)
        if target.shape[0] != x.shape[0]:
            raise ValueError(f"target has {target.shape[0]} samples, the input {x.shape[0]}")
        return self.penalty(model, x, target, roi, layout, logits, category)

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"
