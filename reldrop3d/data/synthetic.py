"""The embedded default data set ``synthetic``: procedural shapes with part labels.

Eleven classes (table, chair, stool, lamp, mug, bottle, airplane, bed, guitar, car, bookshelf),
each built from named parts (see :mod:`.synthetic_shapes`). Per shape: random proportions of every
part, random sampling density per part, anisotropic scale, rotation about the up axis (y), surface
noise; then centred and scaled into the unit sphere, like the standard ModelNet preprocessing.
Generated in memory, vectorised per class, deterministic by seed.

Background-bias variant (``clutter``): a compact blob of points is added whose position is one of
``num_classes`` anchors on a ring below the object. ``"biased"``: the anchor of the shape's own
class (a shortcut a model can learn); ``"shuffled"``: the anchor of a random *other* class (the
shortcut is wrong); ``"random"``: a random anchor. Samples then also carry ``roi`` (N,) bool, True
on object points; the blob has its own global part id ``clutter/blob``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import register_dataset
from .base import PointCloudDataset
from .synthetic_shapes import CLASSES, part_names_of, sample_class

SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES = {"train": 2400, "val": 400, "test": 600}
CLUTTER_MODES = ("none", "biased", "shuffled", "random")
CHUNK = 1024  # shapes generated at once per class (bounds memory)


def split_generator(seed: int, split: str, stream: int = 0) -> torch.Generator:
    """Independent random stream per (seed, split, purpose) via NumPy's SeedSequence."""
    state = np.random.SeedSequence([int(seed), SPLITS[split], stream]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def clutter_anchors(num_classes: int, radius: float = 0.75, height: float = -0.75) -> torch.Tensor:
    """Anchor positions (num_classes, 3) of the clutter blob: a ring below the object."""
    a = torch.arange(num_classes) * (2 * math.pi / num_classes)
    return torch.stack([radius * torch.cos(a), torch.full_like(a, height), radius * torch.sin(a)], -1)


class SyntheticShapes(PointCloudDataset):
    """Procedural part-labelled shapes (see module docstring).

    Parameters
    ----------
    split : {"train", "val", "test"}
    num_points : int
        Points per shape.
    num_shapes : int or dict, optional
        Shapes in this split (a dict maps split -> count); default 2400 / 400 / 600.
    seed : int
        Seed of the whole data set; each split draws from its own stream.
    use_normals : bool
        Add ``normals`` to the samples.
    clutter : {"none", "biased", "shuffled", "random"}
    clutter_points : int
        Points of the clutter blob (taken from the ``num_points``).
    noise : float
        Standard deviation of the Gaussian surface noise (before normalisation).
    """

    name = "synthetic"

    def __init__(
        self,
        split: str = "train",
        num_points: int = 1024,
        num_shapes: int | dict | None = None,
        seed: int = 0,
        use_normals: bool = False,
        clutter: str = "none",
        clutter_points: int = 64,
        noise: float = 0.005,
    ):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        if clutter not in CLUTTER_MODES:
            raise ValueError(f"unknown clutter mode {clutter!r}; choose from {CLUTTER_MODES}")
        if isinstance(num_shapes, dict):
            num_shapes = num_shapes.get(split, DEFAULT_SIZES[split])
        num_shapes = DEFAULT_SIZES[split] if num_shapes is None else int(num_shapes)
        if num_points < 1 or num_shapes < 1:
            raise ValueError(f"num_points and num_shapes must be >= 1, got {num_points}, {num_shapes}")
        n_clutter = clutter_points if clutter != "none" else 0
        if not 0 <= n_clutter < num_points:
            raise ValueError(f"clutter_points must lie in [0, num_points), got {clutter_points}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.split, self.seed, self.clutter = split, seed, clutter
        self.num_points, self.use_normals = num_points, use_normals
        self.classes = list(CLASSES)
        self.part_names = [f"{c}/{p}" for c in self.classes for p in part_names_of(c)]
        offsets, start = [], 0
        for c in self.classes:
            offsets.append(start)
            start += len(part_names_of(c))
        self.parts_of_class = {
            i: list(range(offsets[i], offsets[i] + len(part_names_of(c)))) for i, c in enumerate(self.classes)
        }
        if clutter != "none":
            self.part_names.append("clutter/blob")
        self.num_parts = len(self.part_names)
        self._generate(num_shapes, n_clutter, noise, offsets)

    # -- generation ------------------------------------------------------------------------
    def _generate(self, m: int, n_clutter: int, noise: float, offsets: list[int]) -> None:
        gen = split_generator(self.seed, self.split)
        k = len(self.classes)
        labels = (torch.arange(m) % k)[torch.randperm(m, generator=gen)]
        n_obj = self.num_points - n_clutter
        points = torch.empty(m, self.num_points, 3)
        normals = torch.empty(m, self.num_points, 3)
        parts = torch.empty(m, self.num_points, dtype=torch.long)
        for c, name in enumerate(self.classes):
            idx = (labels == c).nonzero().squeeze(1)
            for chunk in idx.split(CHUNK):
                p, nr, part = sample_class(name, len(chunk), n_obj, gen)
                points[chunk, :n_obj], normals[chunk, :n_obj] = p, nr
                parts[chunk, :n_obj] = part + offsets[c]
        obj = points[:, :n_obj]
        # anisotropic scale, rotation about y, noise, then into the unit sphere
        scale = torch.exp(0.3 * (2 * torch.rand(m, 1, 3, generator=gen) - 1))  # 0.74 .. 1.35 per axis
        yaw = 2 * math.pi * torch.rand(m, generator=gen)
        c, s = torch.cos(yaw), torch.sin(yaw)
        z, o = torch.zeros_like(c), torch.ones_like(c)
        rot = torch.stack([c, z, s, z, o, z, -s, z, c], -1).view(m, 3, 3)
        obj = (obj * scale) @ rot.transpose(1, 2)
        nrm = (normals[:, :n_obj] / scale) @ rot.transpose(1, 2)
        obj = obj + noise * torch.randn(obj.shape, generator=gen)
        obj = obj - obj.mean(1, keepdim=True)
        obj = obj / obj.norm(dim=-1).amax(1).view(m, 1, 1)
        points[:, :n_obj] = obj
        normals[:, :n_obj] = nrm / nrm.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        self.roi = torch.ones(m, self.num_points, dtype=torch.bool)
        if n_clutter:
            anchors = clutter_anchors(k)
            if self.clutter == "biased":
                where = labels
            elif self.clutter == "shuffled":
                where = (labels + torch.randint(1, k, (m,), generator=gen)) % k
            else:
                where = torch.randint(0, k, (m,), generator=gen)
            d = torch.randn(m, n_clutter, 3, generator=gen)
            d = d / d.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            rad = 0.08 * torch.rand(m, n_clutter, 1, generator=gen) ** (1 / 3)
            points[:, n_obj:] = anchors[where].unsqueeze(1) + rad * d
            normals[:, n_obj:] = d
            parts[:, n_obj:] = self.num_parts - 1
            self.roi[:, n_obj:] = False
            self.clutter_anchor = where
        # one random permutation per shape so that clutter is not always the last points
        perm = torch.rand(m, self.num_points, generator=gen).argsort(1)
        self.points = points.gather(1, perm.unsqueeze(-1).expand(-1, -1, 3)).contiguous()
        self.normals = normals.gather(1, perm.unsqueeze(-1).expand(-1, -1, 3)).contiguous()
        self.parts = parts.gather(1, perm)
        self.roi = self.roi.gather(1, perm)
        self._labels = labels

    # -- dataset protocol ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = {
            "points": self.points[i],
            "label": self._labels[i],
            "parts": self.parts[i],
            "index": torch.tensor(i),
        }
        if self.use_normals:
            sample["normals"] = self.normals[i]
        if self.clutter != "none":
            sample["roi"] = self.roi[i]
        return sample

    def labels(self) -> torch.Tensor:
        return self._labels.clone()


@register_dataset("synthetic")
def synthetic(split: str = "train", root=None, **kwargs) -> SyntheticShapes:
    """The embedded procedural data set (``root`` is accepted and ignored: nothing is on disk)."""
    try:
        return SyntheticShapes(split, **kwargs)
    except TypeError as err:
        raise TypeError(f"synthetic data set: {err}") from err
