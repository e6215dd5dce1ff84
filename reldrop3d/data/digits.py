"""scikit-learn's bundled ``digits``: 1,797 real 8 x 8 grey-scale images of handwritten digits.

The images ship with scikit-learn (no download), which makes them the offline test bed of the
2D adapter: RelDrop on images with the same masking API as on point clouds.

A sample is a ``dict``:

========== ============================ ==================================================
key        value                        notes
========== ============================ ==================================================
image      float32 tensor (1, 8, 8)     grey values scaled from 0..16 to [0, 1]
label      int64 tensor ()              the digit 0-9
index      int64 tensor ()              position of the sample in the split
========== ============================ ==================================================

Splits are a fixed, class-stratified permutation (seeded): ``train`` 70 %, ``val`` 10 %,
``test`` 20 %.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from . import register_dataset
from .base import DataError

SPLIT_SHARES = {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0)}


def load_digits_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    """All digits images (M, 1, 8, 8) in [0, 1] and labels (M,), from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - scikit-learn is a test dependency
        raise DataError("the 'digits' data set needs scikit-learn (pip install scikit-learn)"
                        ) from err
    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return images, labels


def split_indices(labels: torch.Tensor, split: str, seed: int = 0) -> torch.Tensor:
    """Indices of ``split``: per class, a seeded permutation cut at the split's shares."""
    if split not in SPLIT_SHARES:
        raise DataError(f"unknown split {split!r} for digits; choose from {list(SPLIT_SHARES)}")
    lo, hi = SPLIT_SHARES[split]
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=g)]
        n = len(members)
        chosen.append(members[int(round(lo * n)) : int(round(hi * n))])
    return torch.cat(chosen).sort().values


class Digits(Dataset):
    """The digits images of one split (see the module docstring).

    Parameters
    ----------
    split : {"train", "val", "test"}
    seed : int
        Seed of the split permutation.
    """

    name = "digits"
    classes = [str(d) for d in range(10)]
    input_kind = "image"
    in_channels = 1
    image_size = (8, 8)

    def __init__(self, split: str = "train", seed: int = 0):
        images, labels = load_digits_arrays()
        idx = split_indices(labels, split, seed)
        self.split = split
        self.images, self.targets = images[idx].contiguous(), labels[idx].contiguous()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for digits/{self.split} ({len(self)} images)")
        return {"image": self.images[i], "label": self.targets[i],
                "index": torch.tensor(i % len(self), dtype=torch.long)}

    def labels(self) -> torch.Tensor:
        """All labels (M,) int64."""
        return self.targets.clone()

    def channel_mean(self) -> torch.Tensor:
        """Mean pixel value per channel (C,): the ``mean`` fill's data-set mean."""
        return self.images.mean(dim=(0, 2, 3))


@register_dataset("digits")
def digits(split: str = "train", seed: int = 0, root=None, **unknown) -> Digits:
    """The bundled digits images (``root`` is accepted and ignored; nothing is read from disk).

    Point-cloud keywords (``num_points``, ``use_normals``) are not meaningful here and raise.
    """
    if unknown:
        raise DataError(f"digits got unsupported arguments: {sorted(unknown)}")
    return Digits(split, seed)
