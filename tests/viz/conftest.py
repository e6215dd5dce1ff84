"""Fixtures for the visualisation tests: tiny clouds and the Open3D renderer probe."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def sphere_cloud():
    """256 points on the unit sphere (float32 (N, 3)) and a reproducible signed relevance."""
    rng = np.random.default_rng(0)
    p = rng.normal(size=(256, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    return p.astype(np.float32), rng.normal(size=256).astype(np.float32)


@pytest.fixture(scope="session")
def open3d_renderer():
    """Skips (with the probe's reason) unless Open3D's offscreen renderer truly runs here."""
    pytest.importorskip("open3d", reason="open3d is not installed (pip install open3d)")
    from reldrop3d.viz.render_o3d import open3d_status

    ok, why = open3d_status()
    if not ok:
        pytest.skip(f"Open3D offscreen renderer cannot run here: {why}")
    return "open3d"
