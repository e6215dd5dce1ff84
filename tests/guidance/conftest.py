"""Tiny models whose relevance lies exactly where the test puts it.

``GatedPointModel``: a per-point 1x1 conv, then a fixed gate (points with z > 0 pass, the others
are cut off from the output), sum pooling and a linear head. Points with z <= 0 get zero
gradient and zero LRP relevance; gated points of one sample are identical, so every attribution is
uniform over them. ``GatedImageModel`` is the same on pixels (channel 0 > 0 passes).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

K = 3  # classes


class GatedPointModel(nn.Module):
    lrp_input_layers = ("conv",)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 1)
        self.act = nn.ReLU()
        self.head = nn.Linear(6, K)
        with torch.no_grad():
            self.conv.weight.uniform_(0.2, 1.0)
            self.conv.bias.zero_()
            self.head.weight.uniform_(0.2, 1.0)
            self.head.weight[1:] *= torch.tensor([[0.5], [0.25]])
            self.head.bias.zero_()

    def forward(self, points):
        gate = (points[..., 2] > 0).to(points.dtype).unsqueeze(1).detach()
        h = self.act(self.conv(points.transpose(1, 2))) * gate
        return self.head(h.sum(2))


class GatedImageModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 1)
        self.act = nn.ReLU()
        self.head = nn.Linear(6, K)
        with torch.no_grad():
            self.conv.weight.uniform_(0.2, 1.0)
            self.conv.bias.zero_()
            self.head.weight.uniform_(0.2, 1.0)
            self.head.bias.zero_()

    def forward(self, images):
        gate = (images[:, :1] > 0).to(images.dtype).detach()
        h = self.act(self.conv(images)) * gate
        return self.head(h.sum((2, 3)))


def gated_points(b: int = 4, n: int = 12, n_on: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (B, N, 3) and the gate (B, N): the first ``n_on`` points of sample i are all
    (1 + i, 0.5 + i, 1) (gated in), the others random with z < 0 (cut off)."""
    torch.manual_seed(0)
    x = torch.rand(b, n, 3)
    x[..., 2] = -0.5 - x[..., 2]
    on = torch.zeros(b, n, dtype=torch.bool)
    on[:, :n_on] = True
    for i in range(b):
        x[i, :n_on] = torch.tensor([1.0 + i, 0.5 + i, 1.0])
    return x, on


def gated_images(b: int = 4, h: int = 6, w: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (B, 2, H, W) and the gate (B, H, W): a constant per-sample top-left block passes."""
    torch.manual_seed(0)
    x = -torch.rand(b, 2, h, w) - 0.1
    on = torch.zeros(b, h, w, dtype=torch.bool)
    on[:, :3, :2] = True
    for i in range(b):
        x[i, 0][on[i]] = 1.0 + i
        x[i, 1][on[i]] = 0.5 + i
    return x, on


@pytest.fixture(params=["points", "images"])
def gated(request):
    """(model, x, gate, layout) for both element layouts."""
    if request.param == "points":
        x, on = gated_points()
        return GatedPointModel(), x, on, "points"
    x, on = gated_images()
    return GatedImageModel(), x, on, "images"


@pytest.fixture
def gated_pts():
    """(GatedPointModel, points, gate)."""
    x, on = gated_points()
    return GatedPointModel(), x, on
