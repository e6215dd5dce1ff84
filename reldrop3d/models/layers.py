"""Building blocks shared by PointNet++ and DGCNN.

Every shared MLP is a stack of ``nn.Sequential(Conv/Linear, BatchNorm, activation)`` blocks with
the BatchNorm directly after its linear layer, so zennit's ``SequentialMergeBatchNorm`` canonizer
and :mod:`reldrop3d.explain` find each pair; activations are modules (``nn.ReLU`` /
``nn.LeakyReLU``), never functional calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


class PointTap(nn.Module):
    """Identity through which channels taken from the input points (e.g. centroid coordinates)
    enter a deeper layer, concatenated to hidden features.

    LRP hooks its output (models declare ``lrp_mixed_inputs = {layer: tap}``): the relevance of
    those channels is routed from here back to the points through the gathers that built them,
    without running the backward through the hidden features' branch a second time. The output
    is a view, a tensor of its own, so its gradient is that of this use alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)


def activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    """``"relu"`` -> ``nn.ReLU()``, ``"leaky_relu"`` -> ``nn.LeakyReLU(negative_slope)``."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {name!r}")


def conv_bn_act(c_in: int, c_out: int, dim: int = 1, act: str = "relu",
                bias: bool = True) -> nn.Sequential:
    """1x1 ConvNd + BatchNormNd + activation: a shared per-point (dim=1, (B, C, N)) or
    per-neighbour (dim=2, (B, C, M, K)) linear layer."""
    if dim not in _CONV:
        raise ValueError(f"dim must be 1 or 2, got {dim}")
    return nn.Sequential(_CONV[dim](c_in, c_out, 1, bias=bias), _BN[dim](c_out), activation(act))


def shared_mlp(c_in: int, widths: Sequence[int], dim: int = 1, act: str = "relu",
               bias: bool = True) -> nn.Sequential:
    """A stack of :func:`conv_bn_act` blocks, ``c_in -> widths[0] -> ... -> widths[-1]``.

    Module names are ``"<i>.0"`` (conv), ``"<i>.1"`` (BN), ``"<i>.2"`` (activation).
    """
    if not widths:
        raise ValueError("shared_mlp needs at least one layer width")
    chans = [c_in, *widths]
    return nn.Sequential(
        *(conv_bn_act(a, b, dim=dim, act=act, bias=bias) for a, b in zip(chans, chans[1:]))
    )


def linear_bn_act(c_in: int, c_out: int, act: str = "relu", dropout: float = 0.0,
                  bias: bool = True) -> nn.Sequential:
    """Linear + BatchNorm1d + activation (+ Dropout): (B, c_in) -> (B, c_out)."""
    layers = [nn.Linear(c_in, c_out, bias=bias), nn.BatchNorm1d(c_out), activation(act)]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def classifier_head(c_in: int, num_classes: int, widths: Sequence[int] = (512, 256),
                    dropout: float | Sequence[float] = 0.5, act: str = "relu",
                    first_bias: bool = True) -> nn.Sequential:
    """The fully connected classifier of PointNet++ / DGCNN: (B, c_in) -> (B, num_classes).

    ``dropout``: one rate for every hidden layer, or one per hidden layer (e.g. ``(0.4, 0.5)``,
    PointNet++ MSG's original head). ``first_bias=False`` drops the bias of the first Linear
    (DGCNN's ``linear1``).
    """
    chans = [c_in, *widths]
    drops = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * len(widths)
    if len(drops) != len(widths) or not all(0.0 <= float(d) < 1.0 for d in drops):
        raise ValueError(f"dropout must be a rate in [0, 1) or one per hidden layer "
                         f"({len(widths)}), got {dropout!r}")
    blocks = [linear_bn_act(a, b, act=act, dropout=float(d), bias=first_bias or i > 0)
              for i, ((a, b), d) in enumerate(zip(zip(chans, chans[1:]), drops))]
    return nn.Sequential(*blocks, nn.Linear(chans[-1], num_classes))


def check_task(task: str, num_classes: int, num_parts: int) -> None:
    """Validate the common model arguments (``task``, ``num_classes``, ``num_parts``)."""
    if task not in ("cls", "partseg"):
        raise ValueError(f"task must be 'cls' or 'partseg', got {task!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if task == "partseg" and num_parts < 2:
        raise ValueError(f"partseg needs num_parts >= 2, got {num_parts}")
