import math

import numpy as np
import pytest

from reldrop3d.viz.camera import (
    CLASS_VIEWS,
    DEFAULT_AZIM,
    DEFAULT_ELEV,
    canonical_view,
    class_view,
    fit_camera,
    principal_azimuth,
)


def yaw(points, degrees, up="y"):
    """Rotate about the up axis by ``degrees`` (same sense as fit_camera's azimuth)."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    if up == "y":
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    else:  # z up: (A, up, B) = (y, z, x)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return points @ rot.T


@pytest.fixture
def chair_like():
    """An asymmetric cloud: long along x, skewed towards +x, a bump in +y."""
    g = np.random.default_rng(0)
    p = g.normal(size=(400, 3)) * [3.0, 1.0, 1.0]
    p[:, 0] += np.abs(p[:, 0])
    p[:50, 1] += 2.0
    return p


@pytest.mark.parametrize("up", ["y", "z"])
@pytest.mark.parametrize("turn", [0.0, 40.0, 135.0, -100.0])
def test_pca_view_sees_rotated_copies_alike(chair_like, turn, up):
    """Shapes that differ by a rotation about the up axis give the same picture."""
    base = chair_like if up == "y" else chair_like[:, [2, 0, 1]]  # y-up -> z-up
    turned = yaw(base, turn, up)
    assert principal_azimuth(turned, up) == pytest.approx(
        (principal_azimuth(base, up) + turn + 180) % 360 - 180, abs=1e-6)
    views = [canonical_view(p, "chair", up) for p in (base, turned)]
    cams = [fit_camera(p, 120, 100, *v, up=up) for p, v in zip((base, turned), views)]
    # the viewing direction turned back with the shape is the base's direction: the same side
    # of the shape faces the camera (the framing follows each cloud's bounding box)
    dirs = [np.subtract(c.eye, c.center) / np.linalg.norm(np.subtract(c.eye, c.center))
            for c in cams]
    np.testing.assert_allclose(yaw(dirs[1][None], -turn, up)[0], dirs[0], atol=1e-9)


def test_canonical_view_is_deterministic_and_per_class(chair_like):
    assert canonical_view(chair_like, "chair") == canonical_view(chair_like.copy(), "chair")
    assert class_view("chair") == (DEFAULT_ELEV, DEFAULT_AZIM)
    assert class_view("airplane") == CLASS_VIEWS["airplane"] != class_view(None)
    # fixed: world azimuth, independent of the shape's orientation
    assert canonical_view(yaw(chair_like, 50), "chair", align="fixed") == (DEFAULT_ELEV,
                                                                          DEFAULT_AZIM)
    assert canonical_view(chair_like, "chair", elev=10, azim=0, align="fixed") == (10.0, 0.0)
    with pytest.raises(ValueError, match="align"):
        canonical_view(chair_like, align="random")
    assert principal_azimuth(np.zeros((5, 3))) == 0.0  # no horizontal extent
