"""Fixtures of the data-set tests: copies of the shared real samples and small data folders
generated in every public format (text, OFF, HDF5) in ``tmp_path``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from folder_builders import (
    CUBE_F,
    CUBE_V,
    SYNSETS,
    off_text,
    write_modelnet_h5,
    write_modelnet_normal,
    write_modelnet_off,
    write_shapenet_h5,
    write_shapenet_normal,
)


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def modelnet_copy(shared_data, tmp_path) -> Path:
    """A writable copy of the shared ``modelnet40_normal_resampled`` sample."""
    dst = tmp_path / "modelnet40_normal_resampled"
    shutil.copytree(shared_data / "modelnet40_normal_resampled", dst)
    return dst


class Build:
    """The writers of :mod:`folder_builders`, handed to tests by the ``build`` fixture."""

    modelnet_normal = staticmethod(write_modelnet_normal)
    modelnet_h5 = staticmethod(write_modelnet_h5)
    modelnet_off = staticmethod(write_modelnet_off)
    shapenet_normal = staticmethod(write_shapenet_normal)
    shapenet_h5 = staticmethod(write_shapenet_h5)
    off_text = staticmethod(off_text)
    cube_vertices = CUBE_V
    cube_faces = CUBE_F
    synsets = SYNSETS


@pytest.fixture
def build() -> type[Build]:
    """Generators of small data folders in every public format (write into ``tmp_path``)."""
    return Build
