"""Data sets behind one sample interface (see :mod:`reldrop3d.data.base`).

``create_dataset(name, split, ...)`` builds a registered data set. Modules are imported lazily,
so a data set's optional dependencies are only needed when it is used.
"""

from __future__ import annotations

from ..utils.registry import Registry
from .base import DataError, PointCloudDataset, batch_to_input

DATASETS = Registry(
    "data set",
    lazy_modules={
        "synthetic": "reldrop3d.data.synthetic",
        "modelnet40": "reldrop3d.data.modelnet",
        "modelnet10": "reldrop3d.data.modelnet",
        "shapenetpart": "reldrop3d.data.shapenet",
        "shapenet": "reldrop3d.data.shapenet",
        "digits": "reldrop3d.data.digits",
    },
)
register_dataset = DATASETS.register
# data sets of images (B, C, H, W) rather than point clouds; they take no point-cloud arguments
IMAGE_DATASETS = ("digits",)
#: data sets read from data folders (they take ``root``, ``format``, ``skip_missing``)
ON_DISK_DATASETS = ("modelnet40", "modelnet10", "shapenetpart", "shapenet")


def create_dataset(name: str, split: str = "train", **kwargs) -> PointCloudDataset:
    """Build the data set ``name`` for ``split`` ("train", "val" or "test").

    Keyword arguments are passed to the data set's factory; common ones are ``root``,
    ``num_points`` and ``use_normals``.
    """
    return DATASETS.create(name, split=split, **kwargs)


def list_datasets() -> list[str]:
    return DATASETS.names()


__all__ = [
    "DATASETS",
    "IMAGE_DATASETS",
    "ON_DISK_DATASETS",
    "DataError",
    "PointCloudDataset",
    "batch_to_input",
    "create_dataset",
    "list_datasets",
    "register_dataset",
]
