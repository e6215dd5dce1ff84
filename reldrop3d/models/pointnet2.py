"""PointNet++ (Qi et al., NeurIPS 2017), single- and multi-scale grouping, cls and part seg.

Layer sizes follow the reference implementations (``pointnet2_cls_ssg`` / ``_msg`` and
``pointnet2_part_seg_ssg`` / ``_msg``). Sampling (FPS from index 0, as the original CUDA kernel)
and ball queries (first K found, the original's order, padded with the first neighbour) run under
``torch.no_grad``: their indices are constants of the forward pass. Shared MLPs are
``Sequential(Conv, BatchNorm, ReLU)`` blocks (see :mod:`reldrop3d.models.layers`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..ops import (
    ball_query,
    farthest_point_sample,
    gather_points,
    group_points,
    interpolation_weights,
)
from .attribution import is_attributing
from .layers import PointTap, check_task, classifier_head, conv_bn_act, shared_mlp
from .pooling import GlobalMaxPool, WeightedSum
from .registry import register_model


class GroupingBranch(nn.Module):
    """One scale of a set-abstraction layer: ball query, shared MLP, max over the neighbours."""

    def __init__(self, radius: float, max_neighbors: int, c_in: int, widths: Sequence[int]):
        super().__init__()
        self.radius = radius
        self.max_neighbors = max_neighbors
        self.coords = PointTap()  # the relative coordinates in front of the features
        self.mlp = shared_mlp(c_in, widths, dim=2)
        self.pool = GlobalMaxPool(dim=-1)
        self.out_channels = widths[-1]

    def forward(self, xyz, centroids, features, backend: str) -> torch.Tensor:
        """(B, N, 3), (B, M, 3), (B, N, C) or None -> (B, M, C_out)."""
        with torch.no_grad():
            idx, _ = ball_query(centroids, xyz, self.radius, self.max_neighbors, backend=backend)
        if is_attributing():
            # centres are constants: a relative coordinate's relevance goes to the neighbour only
            centroids = centroids.detach()
        grouped = self.coords(group_points(xyz, centroids, idx))  # (B, M, K, 3)
        if features is not None:
            grouped = torch.cat([grouped, group_points(xyz, centroids, idx, features, use_xyz=False)],
                                dim=-1)  # (B, M, K, 3 + C)
        out = self.pool(self.mlp(grouped.permute(0, 3, 1, 2)))  # (B, C_out, M)
        return out.transpose(1, 2)


class SetAbstraction(nn.Module):
    """Set abstraction: FPS centroids, then one :class:`GroupingBranch` per scale, concatenated.

    Parameters
    ----------
    num_centroids : int or None
        Centroids sampled by FPS (capped at the number of input points); ``None`` groups all
        points into one set around the origin (the last SA layer).
    radii, max_neighbors : sequences
        One entry per scale (ignored with ``num_centroids=None``).
    feature_channels : int
        Channels C of the incoming per-point features (0 for none); the branches see 3 + C.
    mlps : sequence of sequences of int
        Layer widths of each branch's shared MLP.
    """

    def __init__(self, num_centroids, radii, max_neighbors, feature_channels, mlps,
                 backend: str = "auto"):
        super().__init__()
        self.num_centroids = num_centroids
        self.backend = backend
        c_in = 3 + feature_channels
        self.coords = PointTap()  # group all: the absolute coordinates in front of the features
        if num_centroids is None:
            self.branches = None
            self.mlp = shared_mlp(c_in, mlps[0], dim=1)
            self.pool = GlobalMaxPool(dim=-1)
            self.out_channels = mlps[0][-1]
        else:
            if not len(radii) == len(max_neighbors) == len(mlps):
                raise ValueError("radii, max_neighbors and mlps need one entry per scale")
            self.branches = nn.ModuleList(
                GroupingBranch(r, k, c_in, w) for r, k, w in zip(radii, max_neighbors, mlps)
            )
            self.out_channels = sum(b.out_channels for b in self.branches)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None):
        """
        Parameters
        ----------
        xyz : Tensor (B, N, 3)
        features : Tensor (B, N, C) or None

        Returns
        -------
        new_xyz : Tensor (B, M, 3) (M = 1 at the origin when grouping all)
        new_features : Tensor (B, M, C_out)
        """
        if self.branches is None:
            x = self.coords(xyz)
            x = x if features is None else torch.cat([x, features], dim=-1)
            g = self.pool(self.mlp(x.transpose(1, 2)))  # (B, C_out)
            return xyz.new_zeros(xyz.shape[0], 1, 3), g.unsqueeze(1)
        m = min(self.num_centroids, xyz.shape[1])
        with torch.no_grad():
            idx = farthest_point_sample(xyz.detach(), m, backend=self.backend)
        centroids = gather_points(xyz, idx)
        feats = [br(xyz, centroids, features, self.backend) for br in self.branches]
        return centroids, torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0]


class FeaturePropagation(nn.Module):
    """Upsampling by 3-NN inverse-distance interpolation, skip concatenation, shared MLP."""

    def __init__(self, c_in: int, widths: Sequence[int], backend: str = "auto"):
        super().__init__()
        self.backend = backend
        self.mlp = shared_mlp(c_in, widths, dim=1)
        self.interpolate = WeightedSum()  # a module, so LRP gives it a rule
        self.out_channels = widths[-1]

    def forward(self, xyz_dst, xyz_src, feats_dst, feats_src) -> torch.Tensor:
        """(B, N, 3), (B, M, 3), (B, N, C1) or None, (B, M, C2) -> (B, N, C_out)."""
        if xyz_src.shape[1] == 1:
            up = feats_src.expand(-1, xyz_dst.shape[1], -1)
        else:
            idx, self.interpolate.weights = interpolation_weights(xyz_dst, xyz_src, 3,
                                                                  backend=self.backend)
            up = self.interpolate(gather_points(feats_src, idx))
        x = up if feats_dst is None else torch.cat([feats_dst, up], dim=-1)
        return self.mlp(x.transpose(1, 2)).transpose(1, 2)


# (num_centroids, radii, max_neighbors, mlps) per SA layer; None = group all
_CONFIGS = {
    ("ssg", "cls"): [
        (512, [0.2], [32], [[64, 64, 128]]),
        (128, [0.4], [64], [[128, 128, 256]]),
        (None, [], [], [[256, 512, 1024]]),
    ],
    ("msg", "cls"): [
        (512, [0.1, 0.2, 0.4], [16, 32, 128], [[32, 32, 64], [64, 64, 128], [64, 96, 128]]),
        (128, [0.2, 0.4, 0.8], [32, 64, 128], [[64, 64, 128], [128, 128, 256], [128, 128, 256]]),
        (None, [], [], [[256, 512, 1024]]),
    ],
    ("msg", "partseg"): [
        (512, [0.1, 0.2, 0.4], [32, 64, 128], [[32, 32, 64], [64, 64, 128], [64, 96, 128]]),
        (128, [0.4, 0.8], [64, 128], [[128, 128, 256], [128, 196, 256]]),
        (None, [], [], [[256, 512, 1024]]),
    ],
}
_CONFIGS["ssg", "partseg"] = _CONFIGS["ssg", "cls"]
_FP_WIDTHS = ([256, 256], [256, 128], [128, 128, 128])


class PointNet2(nn.Module):
    """PointNet++ classifier or part segmenter.

    Parameters
    ----------
    num_classes : int
        Classes (cls) or object categories (partseg: one-hot input of the last FP layer).
    in_channels : int
        3 (xyz) or 6 (xyz + normals); extra channels are grouped as point features.
    task : {"cls", "partseg"}
    num_parts : int
        Part labels (partseg).
    grouping : {"ssg", "msg"}
        Single- or multi-scale grouping.
    num_centroids : (int, int), optional
        FPS centroids of the first two SA layers (default (512, 128); capped at the input size).
    dropout : float
        Dropout of the classifier / segmentation head (0.5 in the originals).
    backend : {"auto", "torch", "cluster"}
        Backend of the neighbourhood ops (:mod:`reldrop3d.ops`).

    Notes
    -----
    ``forward(points (B, N, C))`` -> (B, num_classes); ``forward(points, category (B,))`` ->
    (B, N, num_parts) for partseg. Only xyz drives sampling and grouping.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, task: str = "cls",
                 num_parts: int = 0, grouping: str = "ssg",
                 num_centroids: Sequence[int] = (512, 128), dropout: float = 0.5,
                 backend: str = "auto"):
        super().__init__()
        check_task(task, num_classes, num_parts)
        if in_channels not in (3, 6):
            raise ValueError(f"PointNet++ takes 3 (xyz) or 6 (xyz+normals) channels, got "
                             f"{in_channels}")
        if grouping not in ("ssg", "msg"):
            raise ValueError(f"grouping must be 'ssg' or 'msg', got {grouping!r}")
        self.task, self.num_classes, self.num_parts = task, num_classes, num_parts
        self.in_channels = in_channels
        cfg = _CONFIGS[(grouping, task)]
        centroids = [*num_centroids, None]
        sa, c = [], in_channels - 3
        for (_, radii, ks, mlps), m in zip(cfg, centroids):
            layer = SetAbstraction(m, radii, ks, c, mlps, backend=backend)
            sa.append(layer)
            c = layer.out_channels
        self.sa1, self.sa2, self.sa3 = sa
        # lrp: every first conv that sees input-derived point features
        inputs = [f"sa1.branches.{i}.mlp.0.0" for i in range(len(self.sa1.branches))]
        # deeper layers whose input mixes hidden features with coordinates of input points
        # (relative centroid positions in SA2, absolute ones in SA3): the tap they enter through
        self.lrp_mixed_inputs = {
            **{f"sa2.branches.{i}.mlp.0.0": f"sa2.branches.{i}.coords"
               for i in range(len(self.sa2.branches))},
            "sa3.mlp.0.0": "sa3.coords",
        }
        if task == "cls":
            self.head = classifier_head(self.sa3.out_channels, num_classes, dropout=dropout)
        else:
            c1, c2, c3 = (s.out_channels for s in sa)
            self.fp3 = FeaturePropagation(c3 + c2, _FP_WIDTHS[0], backend)
            self.fp2 = FeaturePropagation(self.fp3.out_channels + c1, _FP_WIDTHS[1], backend)
            # level 0 skip: category one-hot + the input points (xyz [+ normals])
            self.fp1 = FeaturePropagation(self.fp2.out_channels + num_classes + in_channels,
                                          _FP_WIDTHS[2], backend)
            self.seg_head = nn.Sequential(
                conv_bn_act(self.fp1.out_channels, 128), nn.Dropout(dropout),
                nn.Conv1d(128, num_parts, 1),
            )
            # the level-0 skip [one-hot, points, upsampled]: the points' channels
            self.skip_points = PointTap()
            self.lrp_mixed_inputs["fp1.mlp.0.0"] = "skip_points"
        self.lrp_input_layers = tuple(inputs)

    def forward(self, points: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected points of shape (B, N, {self.in_channels}), got "
                             f"{tuple(points.shape)}")
        xyz = points[..., :3]
        feats0 = points[..., 3:] if self.in_channels > 3 else None
        xyz1, f1 = self.sa1(xyz, feats0)
        xyz2, f2 = self.sa2(xyz1, f1)
        xyz3, f3 = self.sa3(xyz2, f2)
        if self.task == "cls":
            return self.head(f3.squeeze(1))
        if category is None:
            raise ValueError("partseg forward needs the category label (B,)")
        u2 = self.fp3(xyz2, xyz3, f2, f3)
        u1 = self.fp2(xyz1, xyz2, f1, u2)
        onehot = nn.functional.one_hot(category, self.num_classes).to(points.dtype)
        skip0 = torch.cat([onehot.unsqueeze(1).expand(-1, points.shape[1], -1),
                           self.skip_points(points)], dim=-1)
        u0 = self.fp1(xyz, xyz1, skip0, u1)
        return self.seg_head(u0.transpose(1, 2)).transpose(1, 2)


@register_model("pointnet2_ssg")
def pointnet2_ssg(num_classes: int = 40, **kwargs) -> PointNet2:
    """PointNet++ with single-scale grouping (the official RelDrop 3D runs use ``pointnet2_msg``)."""
    return PointNet2(num_classes, grouping="ssg", **kwargs)


@register_model("pointnet2_msg")
def pointnet2_msg(num_classes: int = 40, **kwargs) -> PointNet2:
    """PointNet++ with multi-scale grouping (the model of the official RelDrop 3D runs)."""
    return PointNet2(num_classes, grouping="msg", **kwargs)
