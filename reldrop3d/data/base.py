"""The sample interface every point-cloud data set implements.

A sample is a ``dict``:

========== ============================ ==================================================
key        value                        notes
========== ============================ ==================================================
points     float32 tensor (N, 3)        xyz
normals    float32 tensor (N, 3)        only when the data set was built with normals
label      int64 tensor ()              class index (for ShapeNetPart: the category)
parts      int64 tensor (N,)            global part ids, only for data sets with parts
index      int64 tensor ()              position of the sample in the data set
========== ============================ ==================================================

All samples of one data set carry the same keys and the same N, so ``torch.utils.data``'s
default collate stacks them into a batch dict with a leading batch dimension.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class DataError(ValueError):
    """Raised for missing, corrupt or inconsistent data; the message names the file."""


class PointCloudDataset(Dataset):
    """Base class of the point-cloud data sets.

    Subclasses set the attributes below and implement ``__len__`` and ``__getitem__``.

    Attributes
    ----------
    name : str
        Registry name of the data set.
    classes : list of str
        Class (or category) names; ``label`` indexes this list.
    num_points : int
        Points per sample (N).
    use_normals : bool
        Whether samples carry ``normals``.
    num_parts : int
        Number of global part ids (0 when the data set has no part labels).
    parts_of_class : dict of int to list of int
        For part segmentation: the global part ids that occur in each class.
    """

    name: str = "base"
    classes: list[str] = []
    num_points: int = 1024
    use_normals: bool = False
    num_parts: int = 0
    parts_of_class: dict[int, list[int]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        """Channels a model sees per point: 3 (xyz) or 6 (xyz + normals)."""
        return 6 if self.use_normals else 3

    def labels(self) -> torch.Tensor:
        """All class labels as an int64 tensor (M,); subclasses may override with a fast path."""
        return torch.stack([self[i]["label"] for i in range(len(self))])


def batch_to_input(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Model input from a collated batch: points (B, N, C) (xyz, plus normals when present), or
    images (B, C, H, W) for image data sets."""
    if "image" in batch:
        return batch["image"]
    points = batch["points"]
    if "normals" in batch:
        return torch.cat([points, batch["normals"]], dim=-1)
    return points
