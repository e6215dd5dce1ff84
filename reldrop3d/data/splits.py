"""Validation splits held out from a training split: stratified, seeded, disjoint."""

from __future__ import annotations

import numpy as np
import torch

from .base import PointCloudDataset

#: splits each registered data set has on disk / by construction
DATASET_SPLITS = {
    "synthetic": ("train", "val", "test"),
    "digits": ("train", "val", "test"),
    "modelnet40": ("train", "test"),
    "modelnet10": ("train", "test"),
    "shapenetpart": ("train", "val", "test", "trainval"),
    "shapenet": ("train", "val", "test", "trainval"),
}


def dataset_splits(name: str) -> tuple[str, ...]:
    """The splits of the registered data set ``name`` (``("train", "val", "test")`` if unknown)."""
    return DATASET_SPLITS.get(name, ("train", "val", "test"))


def stratified_holdout(labels: torch.Tensor | np.ndarray, fraction: float, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into (kept, held out), ``fraction`` of every class held out.

    Parameters
    ----------
    labels : (M,) int
        Class of every sample.
    fraction : float in (0, 1)
        Share of each class held out (rounded; at least one sample of every class with two or
        more samples, none of a class with one, so every class stays in the training part).
    seed : int

    Returns
    -------
    kept, held_out : int64 ndarrays, sorted, disjoint, together ``0..M-1``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    rng = np.random.default_rng([int(seed), 0x5EED])
    held = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        n = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        held.append(rng.choice(idx, n, replace=False))
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return kept.astype(np.int64), held_out.astype(np.int64)


class SubsetDataset(PointCloudDataset):
    """The samples ``indices`` of ``base``, with its classes, channels and part metadata.

    Parameters
    ----------
    base : PointCloudDataset
    indices : sequence of int
    split : str
        Name of this subset (e.g. ``"holdout"``), for messages.
    """

    def __init__(self, base: PointCloudDataset, indices, split: str):
        self.base = base
        self.indices = np.asarray(indices, dtype=np.int64)
        self.split = split
        for attr in ("name", "classes", "num_points", "use_normals", "num_parts", "parts_of_class"):
            if hasattr(base, attr):
                setattr(self, attr, getattr(base, attr))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.base[int(self.indices[i])]

    @property
    def in_channels(self) -> int:
        return self.base.in_channels

    def labels(self) -> torch.Tensor:
        return self.base.labels()[torch.from_numpy(self.indices)]

    def __getattr__(self, name):  # other metadata of the base (e.g. image sizes, fill values)
        if name.startswith("__") or name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def __repr__(self) -> str:
        return f"SubsetDataset({self.base!r}, split={self.split!r}, samples={len(self)})"
