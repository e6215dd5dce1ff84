"""DGCNN (Wang et al., ACM TOG 2019): EdgeConv on a k-NN graph recomputed in feature space.

Layer sizes follow the authors' PyTorch code (``DGCNN_cls`` and ``DGCNN_partseg`` without the
spatial transform net). Blocks are ``Sequential(Conv, BatchNorm, LeakyReLU(0.2))`` without conv
bias, as in the original; k-NN indices are computed under ``torch.no_grad`` and include the point
itself (the original's ``topk`` over ``-||x_i - x_j||^2``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..ops import gather_points, knn
from .attribution import is_attributing
from .layers import check_task, classifier_head, conv_bn_act, shared_mlp
from .pooling import GlobalMaxPool
from .registry import register_model


class EdgeConv2d(nn.Conv2d):
    """The first 1x1 convolution of an EdgeConv, on ``[x_j - x_i, x_i]`` (2C channels).

    In attribution mode the edge features arrive as pure copies ``[x_j, x_i]`` and the weights
    are reparametrised to ``[W_1, W_2 - W_1]`` (same output): then every op between two LRP
    units is a gather or a copy, so relevance is routed identically by the fast path and by
    zennit (which would otherwise push relevance through the subtraction as if it were a
    gradient). The weight is derived inside ``forward``, so rules that modify ``self.weight``
    (BatchNorm merging, Epsilon) still apply.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not is_attributing():
            return super().forward(x)
        c = self.in_channels // 2
        w = torch.cat([self.weight[:, :c], self.weight[:, c:] - self.weight[:, :c]], dim=1)
        return self._conv_forward(x, w, self.bias)


class EdgeConv(nn.Module):
    """EdgeConv: per-edge MLP on ``[x_j - x_i, x_i]`` over the k nearest j, max over j.

    Parameters
    ----------
    c_in : int
        Point feature channels C (the edge features have 2C).
    widths : sequence of int
        Widths of the per-edge shared MLP (Conv2d blocks).
    k : int
        Neighbours (capped at the number of points).
    """

    def __init__(self, c_in: int, widths: Sequence[int], k: int, backend: str = "auto"):
        super().__init__()
        self.k = k
        self.backend = backend
        self.mlp = shared_mlp(2 * c_in, widths, dim=2, act="leaky_relu", bias=False)
        first = self.mlp[0][0]
        self.mlp[0][0] = EdgeConv2d(first.in_channels, first.out_channels, 1, bias=False)
        self.pool = GlobalMaxPool(dim=-1)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor, graph: torch.Tensor | None = None) -> torch.Tensor:
        """
        Parameters
        ----------
        x : Tensor (B, N, C)
            Point features.
        graph : Tensor (B, N, D), optional
            Coordinates the k-NN graph is built in (default ``x``: the dynamic graph).

        Returns
        -------
        Tensor (B, N, C_out)
        """
        g = (x if graph is None else graph).detach()
        with torch.no_grad():
            idx, _ = knn(g, g, min(self.k, g.shape[1]), backend=self.backend)
        nb = gather_points(x, idx)  # (B, N, k, C)
        centre = x.unsqueeze(2).expand_as(nb)
        # attribution: copies [x_j, x_i] for the reparametrised first conv (see EdgeConv2d)
        rel = nb if is_attributing() else nb - centre
        edges = torch.cat([rel, centre], dim=-1).permute(0, 3, 1, 2)  # (B, 2C, N, k)
        return self.pool(self.mlp(edges)).transpose(1, 2)


class DGCNN(nn.Module):
    """DGCNN classifier or part segmenter.

    Parameters
    ----------
    num_classes : int
        Classes (cls) or object categories (partseg: the one-hot label input).
    in_channels : int
        3 (xyz) or 6 (xyz + normals). The first graph is built on xyz; the first EdgeConv sees
        all channels.
    task : {"cls", "partseg"}
    num_parts : int
        Part labels (partseg).
    k : int
        Neighbours per point (20 for cls, 40 for partseg in the paper; default 20).
    emb_dims : int
        Width of the global embedding (1024).
    dropout : float
        Dropout of the heads (0.5).
    backend : {"auto", "torch", "cluster"}
        Backend of :func:`reldrop3d.ops.knn` (``"auto"``: torch-cluster for the 3-d xyz graph,
        pure torch for feature-space graphs).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, task: str = "cls",
                 num_parts: int = 0, k: int = 20, emb_dims: int = 1024, dropout: float = 0.5,
                 backend: str = "auto"):
        super().__init__()
        check_task(task, num_classes, num_parts)
        if in_channels not in (3, 6):
            raise ValueError(f"DGCNN takes 3 (xyz) or 6 (xyz+normals) channels, got {in_channels}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.task, self.num_classes, self.num_parts = task, num_classes, num_parts
        self.in_channels, self.k = in_channels, k
        leaky = dict(act="leaky_relu", bias=False)
        if task == "cls":
            specs = [(in_channels, [64]), (64, [64]), (64, [128]), (128, [256])]
        else:
            specs = [(in_channels, [64, 64]), (64, [64, 64]), (64, [64])]
        self.edge_convs = nn.ModuleList(EdgeConv(c, w, k, backend) for c, w in specs)
        cat_dim = sum(e.out_channels for e in self.edge_convs)
        self.embed = conv_bn_act(cat_dim, emb_dims, **leaky)
        self.pool = GlobalMaxPool(dim=-1)
        if task == "cls":
            self.avg_pool = nn.AdaptiveAvgPool1d(1)
            self.head = classifier_head(2 * emb_dims, num_classes, dropout=dropout,
                                        act="leaky_relu", first_bias=False)
        else:
            self.label_conv = conv_bn_act(num_classes, 64, **leaky)
            self.seg_head = nn.Sequential(
                conv_bn_act(emb_dims + 64 + cat_dim, 256, **leaky), nn.Dropout(dropout),
                conv_bn_act(256, 256, **leaky), nn.Dropout(dropout),
                conv_bn_act(256, 128, **leaky),
                nn.Conv1d(128, num_parts, 1, bias=False),
            )
        self.lrp_input_layers = ("edge_convs.0.mlp.0.0",)

    def forward(self, points: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected points of shape (B, N, {self.in_channels}), got "
                             f"{tuple(points.shape)}")
        x, feats = points, []
        for i, conv in enumerate(self.edge_convs):
            x = conv(x, graph=points[..., :3] if i == 0 else None)
            feats.append(x)
        local = torch.cat(feats, dim=-1).transpose(1, 2)  # (B, cat_dim, N)
        emb = self.embed(local)  # (B, emb_dims, N)
        g = self.pool(emb)
        if self.task == "cls":
            return self.head(torch.cat([g, self.avg_pool(emb).squeeze(-1)], dim=1))
        if category is None:
            raise ValueError("partseg forward needs the category label (B,)")
        onehot = nn.functional.one_hot(category, self.num_classes).to(points.dtype)
        label = self.label_conv(onehot.unsqueeze(-1)).squeeze(-1)  # (B, 64)
        n = points.shape[1]
        cond = torch.cat([g, label], dim=1).unsqueeze(-1).expand(-1, -1, n)
        return self.seg_head(torch.cat([cond, local], dim=1)).transpose(1, 2)


@register_model("dgcnn")
def dgcnn(num_classes: int = 40, **kwargs) -> DGCNN:
    """DGCNN with a dynamic k-NN graph (``k=20``, ``emb_dims=1024`` by default)."""
    return DGCNN(num_classes, **kwargs)
