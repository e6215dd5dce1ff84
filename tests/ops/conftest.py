"""Shared fixtures for the ops tests: ``backend`` runs a test once per available backend."""

from __future__ import annotations

import pytest

from reldrop3d.ops import has_torch_cluster

_needs_cluster = pytest.mark.skipif(not has_torch_cluster(), reason="torch-cluster not installed")


@pytest.fixture(params=["torch", pytest.param("cluster", marks=_needs_cluster)])
def backend(request) -> str:
    return request.param
