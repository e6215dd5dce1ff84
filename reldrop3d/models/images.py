"""Image classifiers (B, C, H, W) -> (B, K), registered beside the point-cloud models.

========== =======================================================================================
``small_cnn``  three Conv2d-BatchNorm-ReLU blocks, a max pool, global max pooling and one linear
               layer; fast LRP-ready (``lrp_input_layers``, BatchNorm merged, max pooling only,
               so relevance is routed exactly by the gradient)
``resnet18``   torchvision's ResNet-18 (random init), ``in_channels`` adapts the stem; explain it
               with zennit's ``ResNetCanonizer`` (``lrp_canonizer = "resnet"``), which merges the
               BatchNorms and splits the residual additions so LRP's rules apply
========== =======================================================================================

Every image model carries ``input_kind = "image"``; its relevance is (B, H, W)
(:func:`reldrop3d.explain.relevance`).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


class SmallCNN(nn.Module):
    """A small CNN for low-resolution images (e.g. 8 x 8 digits, 32 x 32 CIFAR).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    width : int
        Channels of the first block (doubled in each of the next two).
    """

    input_kind = "image"
    lrp_input_layers = ("features.0",)

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16):
        super().__init__()
        if num_classes < 1 or in_channels < 1 or width < 1:
            raise ValueError(f"num_classes, in_channels and width must be positive, got "
                             f"{num_classes}, {in_channels}, {width}")
        self.num_classes, self.in_channels = num_classes, in_channels
        self.features = nn.Sequential(
            *_conv_block(in_channels, width),
            *_conv_block(width, 2 * width),
            nn.MaxPool2d(2, ceil_mode=True),
            *_conv_block(2 * width, 4 * width),
            nn.AdaptiveMaxPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * width, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, K)."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got shape "
                             f"{tuple(images.shape)}")
        return self.classifier(self.features(images))


@register_model("small_cnn")
def small_cnn(num_classes: int = 10, in_channels: int = 1, **kwargs) -> SmallCNN:
    """:class:`SmallCNN` (``width`` keyword: channels of the first block)."""
    kwargs.pop("task", None)
    return SmallCNN(num_classes, in_channels, **kwargs)


@register_model("resnet18")
def resnet18(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """torchvision ResNet-18, randomly initialised, for (B, in_channels, H, W) images.

    Explain it with zennit and ``zennit.torchvision.ResNetCanonizer`` (the model's
    ``lrp_canonizer`` says so); :func:`reldrop3d.explain.relevance` does.
    """
    from torchvision.models import resnet18 as tv_resnet18

    kwargs.pop("task", None)
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"num_classes and in_channels must be positive, got {num_classes}, "
                         f"{in_channels}")
    model = tv_resnet18(weights=None, num_classes=num_classes, **kwargs)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.input_kind = "image"
    model.lrp_canonizer = "resnet"
    model.lrp_input_layers = ("conv1",)  # the stem: Flat under the default composites
    model.num_classes, model.in_channels = num_classes, in_channels
    return model
