"""PointNet (Qi et al., CVPR 2017) for classification and part segmentation.

Shared MLPs are ``nn.Sequential(Conv1d, BatchNorm1d, ReLU)`` blocks, so zennit's
``SequentialMergeBatchNorm`` canonizer and :mod:`reldrop3d.explain` find every conv/BN pair.
The optional input and feature transform nets (T-Nets) are detached during attribution
(see :mod:`reldrop3d.models.attribution`).
"""

from __future__ import annotations

import torch
from torch import nn

from .attribution import is_attributing
from .pooling import GlobalMaxPool
from .registry import register_model


def conv_block(c_in: int, c_out: int, relu: bool = True) -> nn.Sequential:
    """1x1 Conv1d + BatchNorm1d (+ ReLU): a shared per-point linear layer, (B, c_in, N) -> (B, c_out, N)."""
    layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def fc_block(c_in: int, c_out: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear + BatchNorm1d + ReLU (+ Dropout): (B, c_in) -> (B, c_out)."""
    layers: list[nn.Module] = [nn.Linear(c_in, c_out), nn.BatchNorm1d(c_out), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TNet(nn.Module):
    """Predicts a (k x k) transform from a (B, k', N) feature map, initialised to the identity.

    Parameters
    ----------
    k : int
        Size of the transform.
    in_channels : int, optional
        Channels of the input feature map (default ``k``).
    """

    def __init__(self, k: int, in_channels: int | None = None):
        super().__init__()
        self.k = k
        self.features = nn.Sequential(
            conv_block(in_channels or k, 64), conv_block(64, 128), conv_block(128, 1024)
        )
        self.head = nn.Sequential(fc_block(1024, 512), fc_block(512, 256), nn.Linear(256, k * k))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, N) -> (B, k, k)."""
        f = self.features(x).amax(dim=2)
        eye = torch.eye(self.k, device=x.device, dtype=x.dtype)
        return self.head(f).view(-1, self.k, self.k) + eye


def _apply_transform(x: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """Right-multiply per-point features by ``transform``: (B, k, N), (B, k, k) -> (B, k, N)."""
    if is_attributing():
        transform = transform.detach()
    return torch.bmm(transform.transpose(1, 2), x)


class PointNetEncoder(nn.Module):
    """Per-point features and the global max-pooled feature.

    Parameters
    ----------
    in_channels : int
        3 (xyz) or 6 (xyz + normals); the input transform acts on xyz and normals alike.
    input_transform, feature_transform : bool
        Use the 3x3 input T-Net / the 64x64 feature T-Net.
    global_dim : int
        Width of the global feature.
    """

    def __init__(
        self,
        in_channels: int = 3,
        input_transform: bool = False,
        feature_transform: bool = False,
        global_dim: int = 1024,
    ):
        super().__init__()
        if in_channels not in (3, 6):
            raise ValueError(f"PointNet takes 3 (xyz) or 6 (xyz+normals) channels, got {in_channels}")
        self.in_channels = in_channels
        self.input_tnet = TNet(3) if input_transform else None
        self.mlp1 = nn.Sequential(conv_block(in_channels, 64), conv_block(64, 64))
        self.feature_tnet = TNet(64) if feature_transform else None
        self.mlp2 = nn.Sequential(conv_block(64, 128), conv_block(128, global_dim, relu=False))
        self.pool = GlobalMaxPool()
        self.global_dim = global_dim

    def forward(self, points: torch.Tensor):
        """
        Parameters
        ----------
        points : Tensor (B, N, C)

        Returns
        -------
        global_feature : Tensor (B, global_dim)
        point_features : Tensor (B, 64, N)
            Features after the (optional) feature transform.
        feature_transform : Tensor (B, 64, 64) or None
        """
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(
                f"expected points of shape (B, N, {self.in_channels}), got {tuple(points.shape)}"
            )
        x = points.transpose(1, 2)
        if self.input_tnet is not None:
            t = self.input_tnet(x[:, :3])
            parts = [_apply_transform(x[:, i : i + 3], t) for i in range(0, x.shape[1], 3)]
            x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        x = self.mlp1(x)
        ft = None
        if self.feature_tnet is not None:
            ft = self.feature_tnet(x)
            x = _apply_transform(x, ft)
        g = self.pool(self.mlp2(x))
        return g, x, ft


def feature_transform_regularizer(transform: torch.Tensor) -> torch.Tensor:
    """Orthogonality penalty ``mean ||I - A A^T||_F`` of (B, k, k) transforms (PointNet, eq. 2)."""
    eye = torch.eye(transform.shape[1], device=transform.device, dtype=transform.dtype)
    return torch.linalg.matrix_norm(eye - transform @ transform.transpose(1, 2)).mean()


class PointNet(nn.Module):
    """PointNet classifier (``task="cls"``) or part segmenter (``task="partseg"``).

    Parameters
    ----------
    num_classes : int
        Classes (cls) or object categories (partseg: the one-hot input of the seg head).
    in_channels : int
        3 or 6.
    task : {"cls", "partseg"}
    num_parts : int
        Part labels (partseg only).
    input_transform, feature_transform : bool
        Optional T-Nets.
    dropout : float
        Dropout before the last classifier layer.

    Notes
    -----
    ``forward(points)`` returns (B, num_classes) logits; for partseg ``forward(points, category)``
    returns (B, N, num_parts). After each forward, ``self.aux_loss`` holds the feature-transform
    regulariser (0 without a feature T-Net); the trainer adds it with weight 0.001.
    """

    lrp_input_layers = ("encoder.mlp1.0.0",)
    # the last encoder unit is max-pooled right away: apply its LRP rule on the pooled (B, 1024)
    lrp_deferred_units = {"encoder.mlp2.1.1": "encoder.pool"}

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        task: str = "cls",
        num_parts: int = 0,
        input_transform: bool = False,
        feature_transform: bool = False,
        dropout: float = 0.4,
    ):
        super().__init__()
        if task not in ("cls", "partseg"):
            raise ValueError(f"task must be 'cls' or 'partseg', got {task!r}")
        if task == "partseg" and num_parts < 2:
            raise ValueError("partseg needs num_parts >= 2")
        self.task = task
        self.num_classes = num_classes
        self.num_parts = num_parts
        self.encoder = PointNetEncoder(in_channels, input_transform, feature_transform)
        if task == "cls":
            self.head = nn.Sequential(
                fc_block(1024, 512),
                fc_block(512, 256, dropout=dropout),
                nn.Linear(256, num_classes),
            )
        else:
            # Per-point features (64) + global feature (1024) + category one-hot.
            self.seg_head = nn.Sequential(
                conv_block(64 + 1024 + num_classes, 512),
                conv_block(512, 256),
                conv_block(256, 128),
                nn.Conv1d(128, num_parts, 1),
            )
        self.aux_loss = torch.zeros(())

    def forward(self, points: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        g, pf, ft = self.encoder(points)
        self.aux_loss = (
            feature_transform_regularizer(ft) if ft is not None else points.new_zeros(())
        )
        if self.task == "cls":
            return self.head(g)
        if category is None:
            raise ValueError("partseg forward needs the category label (B,)")
        n = pf.shape[2]
        onehot = nn.functional.one_hot(category, self.num_classes).to(pf.dtype)
        cond = torch.cat([g, onehot], dim=1).unsqueeze(2).expand(-1, -1, n)
        return self.seg_head(torch.cat([pf, cond], dim=1)).transpose(1, 2)


@register_model("pointnet")
def pointnet(num_classes: int = 40, **kwargs) -> PointNet:
    """PointNet without T-Nets (the common fast variant; pass ``input_transform=True`` etc.)."""
    return PointNet(num_classes, **kwargs)


@register_model("pointnet_tnet")
def pointnet_tnet(num_classes: int = 40, **kwargs) -> PointNet:
    """PointNet with input (3x3) and feature (64x64) transform nets, as in the paper."""
    kwargs.setdefault("input_transform", True)
    kwargs.setdefault("feature_transform", True)
    return PointNet(num_classes, **kwargs)
