"""The embedded default data set ``synthetic``: procedural part-labelled point clouds.

Eleven classes (table, chair, stool, lamp, mug, bottle, airplane, bed, guitar, car, bookshelf),
each built from named parts (:mod:`.synthetic_shapes`); part ids are global across classes, like
ShapeNetPart's 50 ids (``part_names``, ``parts_of_class``). Per shape: random proportions of every
part, optional parts, random per-part and view-dependent sampling density, bounding-box
proportions pulled towards a class-independent random target and a random taper (so that extents
and radial moments alone do not give the class away), rotation about the up axis (y), Gaussian
surface noise; finally centred and scaled into the unit sphere, like the standard ModelNet
preprocessing. Generated in memory, vectorised per class, deterministic by seed. See
``docs/synthetic.md``.

Random streams: split ``s`` of seed ``seed`` draws from ``numpy.random.SeedSequence(seed,
spawn_key=(SPLITS[s],))`` (= ``SeedSequence(seed).spawn(3)[SPLITS[s]]``), so the splits are
independent of each other and of the other splits' sizes.

Background-bias variant (``clutter``): ``clutter_points`` of the ``num_points`` form a small sphere
(the blob) at one of ``num_classes`` anchors on a ring below and around the object. ``"biased"``:
the anchor of the shape's own class (a shortcut a model can learn instead of the shape);
``"shuffled"``: the anchor of a random *other* class (the shortcut is wrong); ``"random"``: a
uniformly random anchor. Samples then also carry ``roi`` (N,) bool, True on object points; blob
points have the dedicated global part id ``clutter/blob`` (always the last id, so ``num_parts`` does
not depend on the clutter mode; it is in ``parts_of_class`` only when clutter is on).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import register_dataset
from .base import PointCloudDataset
from .synthetic_shapes import CLASSES, part_names_of, rotation, sample_class

SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES = {"train": 2400, "val": 400, "test": 600}
CLUTTER_MODES = ("none", "biased", "shuffled", "random")
CLUTTER_PART = "clutter/blob"
CHUNK = 1024  # shapes generated at once (bounds the memory of the temporaries)
ASPECT_MIX = 0.65  # how far bounding-box proportions are pulled to the class-independent target
ASPECT_RANGE = 0.9  # target extents per axis: exp(U(-ASPECT_RANGE, ASPECT_RANGE))
TAPER = 0.4  # x and z shrink / grow linearly with the height by up to this factor
BLOB_RADIUS = 0.08  # clutter blob radius, in units of the object's bounding sphere


def split_generator(seed: int, split: str) -> torch.Generator:
    """The torch generator of ``split``, seeded from
    ``numpy.random.SeedSequence(seed, spawn_key=(SPLITS[split],))``."""
    state = np.random.SeedSequence(seed, spawn_key=(SPLITS[split],)).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def clutter_anchors(num_anchors: int, radius: float = 0.9, height: float = -0.6) -> torch.Tensor:
    """Anchor positions (num_anchors, 3) of the clutter blob: a horizontal ring of ``radius`` at
    ``height``, outside the object's unit sphere (before the final normalisation)."""
    a = torch.arange(num_anchors) * (2 * math.pi / num_anchors)
    return torch.stack(
        [radius * torch.cos(a), torch.full_like(a, height), radius * torch.sin(a)], -1
    )


def normalize_unit_sphere(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre each cloud on its mean and scale it so that its farthest point has radius 1.

    Parameters
    ----------
    points : Tensor (B, N, 3)

    Returns
    -------
    points : Tensor (B, N, 3)
    center : Tensor (B, 1, 3)
    scale : Tensor (B, 1, 1), the factor the centred points were multiplied by
    """
    center = points.mean(1, keepdim=True)
    centred = points - center
    scale = 1 / centred.norm(dim=-1).amax(1).clamp(min=1e-12).view(-1, 1, 1)
    return centred * scale, center, scale


def taper(
    points: torch.Tensor, normals: torch.Tensor, amount: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale x and z by ``1 + amount * t``, t in [-1, 1] running from the bottom to the top.

    Parameters
    ----------
    points, normals : Tensor (B, N, 3)
    amount : Tensor (B,), in (-1, 1)

    Returns
    -------
    points, normals : Tensor (B, N, 3); normals transformed by the inverse transposed Jacobian
    (not normalised)
    """
    y = points[..., 1]
    lo, hi = y.amin(1, keepdim=True), y.amax(1, keepdim=True)
    slope = 2 * amount.unsqueeze(1) / (hi - lo).clamp(min=1e-6)  # ds/dy
    s = 1 + slope * (y - lo) - amount.unsqueeze(1)
    x, z = points[..., 0], points[..., 2]
    nx, ny, nz = normals.unbind(-1)
    # J = [[s, x s', 0], [0, 1, 0], [0, z s', s]]  ->  s J^-T n = (nx, s ny - s' (x nx + z nz), nz)
    n = torch.stack([nx, s * ny - slope * (x * nx + z * nz), nz], -1)
    return torch.stack([x * s, y, z * s], -1), n


def pose_shapes(
    points: torch.Tensor, normals: torch.Tensor, noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random proportions, rotation about y and noise for canonical shapes; into the unit sphere.

    Parameters
    ----------
    points, normals : Tensor (B, N, 3)
        Canonical shapes (y up) and their unit normals.
    noise : float
        Mean standard deviation of the Gaussian point noise, in unit-sphere units (each shape
        draws its own from U(0, 2 * noise)).
    gen : torch.Generator

    Returns
    -------
    points, normals : Tensor (B, N, 3), centred, max radius 1, unit normals
    """
    b = points.shape[0]
    extent = (points.amax(1) - points.amin(1)).clamp(min=1e-6)  # (B, 3)
    target = torch.exp(ASPECT_RANGE * (2 * torch.rand(b, 3, generator=gen) - 1))
    scale = (target / extent) ** ASPECT_MIX * extent.prod(-1, keepdim=True) ** (ASPECT_MIX / 3)
    points = points * scale.unsqueeze(1)
    normals = normals / scale.unsqueeze(1)
    points, normals = taper(points, normals, TAPER * (2 * torch.rand(b, generator=gen) - 1))
    rot = rotation(b, yaw=2 * math.pi * torch.rand(b, generator=gen)).transpose(1, 2)
    points, normals = points @ rot, normals @ rot
    points, _, _ = normalize_unit_sphere(points)
    sigma = noise * 2 * torch.rand(b, 1, 1, generator=gen)
    points, _, _ = normalize_unit_sphere(points + sigma * torch.randn(points.shape, generator=gen))
    return points, normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _check_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"synthetic: {name} must be an integer >= {minimum}, got {value!r}")


class SyntheticShapes(PointCloudDataset):
    """Procedural part-labelled shapes (see the module docstring).

    Parameters
    ----------
    split : {"train", "val", "test"}
    num_points : int
        Points per shape (N).
    num_shapes : int or dict of str to int, optional
        Shapes in this split (a dict maps split -> count); default 2400 / 400 / 600. Classes are
        balanced (counts differ by at most one).
    seed : int
        Seed of the whole data set (>= 0); each split has its own stream.
    use_normals : bool
        Add ``normals`` to the samples.
    clutter : {"none", "biased", "shuffled", "random"}
        Background-bias variant (see the module docstring).
    clutter_points : int
        Points of the clutter blob, taken out of ``num_points`` (ignored for ``"none"``).
    noise : float
        Mean standard deviation of the Gaussian surface noise, in unit-sphere units.

    Attributes
    ----------
    points : Tensor (M, N, 3) float32
    normals : Tensor (M, N, 3) float32, only with ``use_normals``
    parts : Tensor (M, N) int64, global part ids
    roi : Tensor (M, N) bool, True on object points
    clutter_anchor : Tensor (M,) int64, anchor index of each shape's blob (-1 without clutter)
    part_names : list of str, ``"class/part"`` per global part id
    """

    name = "synthetic"

    def __init__(
        self,
        split: str = "train",
        num_points: int = 1024,
        num_shapes: int | dict[str, int] | None = None,
        seed: int = 0,
        use_normals: bool = False,
        clutter: str = "none",
        clutter_points: int = 64,
        noise: float = 0.005,
    ):
        if split not in SPLITS:
            raise ValueError(f"synthetic: unknown split {split!r}; choose from {list(SPLITS)}")
        if clutter not in CLUTTER_MODES:
            raise ValueError(
                f"synthetic: unknown clutter mode {clutter!r}; choose from {list(CLUTTER_MODES)}"
            )
        if isinstance(num_shapes, dict):
            unknown = set(num_shapes) - set(SPLITS)
            if unknown:
                raise ValueError(f"synthetic: num_shapes has unknown splits {sorted(unknown)}")
            num_shapes = num_shapes.get(split)
        num_shapes = DEFAULT_SIZES[split] if num_shapes is None else num_shapes
        _check_int("num_points", num_points, 1)
        _check_int("num_shapes", num_shapes, 1)
        _check_int("seed", seed, 0)
        n_clutter = int(clutter_points) if clutter != "none" else 0
        if clutter != "none" and not 1 <= n_clutter < num_points:
            raise ValueError(
                f"synthetic: clutter_points must lie in [1, num_points={num_points}), "
                f"got {clutter_points}"
            )
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
            raise ValueError(f"synthetic: noise must be a finite number >= 0, got {noise!r}")
        self.split, self.seed, self.clutter = split, int(seed), clutter
        self.num_points, self.use_normals = int(num_points), bool(use_normals)
        self.classes = list(CLASSES)
        self.part_names, self.parts_of_class = [], {}
        for c, cls in enumerate(self.classes):
            start = len(self.part_names)
            self.part_names += [f"{cls}/{part}" for part in part_names_of(cls)]
            self.parts_of_class[c] = list(range(start, len(self.part_names)))
        self.part_names.append(CLUTTER_PART)
        self.num_parts = len(self.part_names)
        if clutter != "none":
            for ids in self.parts_of_class.values():
                ids.append(self.num_parts - 1)
        self._generate(int(num_shapes), n_clutter, float(noise))

    def _generate(self, m: int, n_clutter: int, noise: float) -> None:
        gen = split_generator(self.seed, self.split)
        k, n = len(self.classes), self.num_points
        labels = (torch.arange(m) % k)[torch.randperm(m, generator=gen)]
        n_obj = n - n_clutter
        points = torch.empty(m, n, 3)
        normals = torch.empty(m, n, 3)
        parts = torch.empty(m, n, dtype=torch.long)
        for c, cls in enumerate(self.classes):
            offset = self.parts_of_class[c][0]
            for idx in (labels == c).nonzero().squeeze(1).split(CHUNK):
                p, nr, part = sample_class(cls, len(idx), n_obj, gen)
                points[idx, :n_obj], normals[idx, :n_obj] = pose_shapes(p, nr, noise, gen)
                parts[idx, :n_obj] = part + offset
        self.roi = torch.ones(m, n, dtype=torch.bool)
        self.clutter_anchor = torch.full((m,), -1, dtype=torch.long)
        if n_clutter:
            self._add_clutter(points, normals, parts, labels, n_obj, gen)
        self.points = points
        self.normals = normals if self.use_normals else None
        self.parts = parts
        self._labels = labels

    def _add_clutter(
        self, points, normals, parts, labels, n_obj: int, gen: torch.Generator
    ) -> None:
        """Put the blob into points [n_obj:], renormalise, then shuffle the point order."""
        m, n, k = points.shape[0], points.shape[1], len(self.classes)
        if self.clutter == "biased":
            where = labels.clone()
        elif self.clutter == "shuffled":
            where = (labels + torch.randint(1, k, (m,), generator=gen)) % k
        else:
            where = torch.randint(0, k, (m,), generator=gen)
        d = torch.randn(m, n - n_obj, 3, generator=gen)
        d = d / d.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        points[:, n_obj:] = clutter_anchors(k)[where].unsqueeze(1) + BLOB_RADIUS * d
        normals[:, n_obj:] = d
        parts[:, n_obj:] = self.num_parts - 1
        self.roi[:, n_obj:] = False
        points[:] = normalize_unit_sphere(points)[0]
        perm = torch.rand(m, n, generator=gen).argsort(1)
        for t in (points, normals):
            t[:] = t.gather(1, perm.unsqueeze(-1).expand(-1, -1, 3))
        parts[:] = parts.gather(1, perm)
        self.roi = self.roi.gather(1, perm)
        self.clutter_anchor = where

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"synthetic: index {i} out of range for {len(self)} shapes")
        i %= len(self)
        sample = {
            "points": self.points[i],
            "label": self._labels[i],
            "parts": self.parts[i],
            "index": torch.tensor(i, dtype=torch.long),
        }
        if self.use_normals:
            sample["normals"] = self.normals[i]
        if self.clutter != "none":
            sample["roi"] = self.roi[i]
        return sample

    def labels(self) -> torch.Tensor:
        """All class labels (M,) int64, without building samples."""
        return self._labels.clone()

    def __repr__(self) -> str:
        return (
            f"SyntheticShapes(split={self.split!r}, shapes={len(self)}, "
            f"num_points={self.num_points}, classes={self.num_classes}, parts={self.num_parts}, "
            f"clutter={self.clutter!r}, seed={self.seed})"
        )


@register_dataset("synthetic")
def synthetic(
    split: str = "train",
    num_points: int = 1024,
    num_shapes: int | dict[str, int] | None = None,
    seed: int = 0,
    use_normals: bool = False,
    root=None,
    clutter: str = "none",
    clutter_points: int = 64,
    noise: float = 0.005,
    **unknown,
) -> SyntheticShapes:
    """The embedded procedural data set (see :class:`SyntheticShapes` for the parameters).

    ``root`` is accepted and ignored (nothing is read from disk; the command line passes a root
    for every data set). Any other unknown keyword raises ``TypeError``.
    """
    if unknown:
        raise TypeError(
            f"synthetic data set: unknown argument(s) {sorted(unknown)}; accepted: num_points, "
            "num_shapes, seed, use_normals, clutter, clutter_points, noise (root is ignored)"
        )
    return SyntheticShapes(
        split, num_points, num_shapes, seed, use_normals, clutter, clutter_points, noise
    )
