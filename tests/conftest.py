"""Shared fixtures. Tests keep torch to one thread: the CI machine has 2 cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from reldrop3d.utils.allocator import tune_malloc

torch.set_num_threads(int(os.environ.get("RELDROP3D_TEST_THREADS", "1")))
tune_malloc()  # as the reldrop3d command does (fewer page faults in the training tests)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real sample data beside the checkout (never write into it)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
