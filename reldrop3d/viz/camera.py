"""A pinhole camera shared by every renderer, so tests (and users) know where each point lands.

Conventions (OpenCV): camera x right, y down, z forward; pixel ``(u, v)`` with ``u`` to the right
and ``v`` downwards, origin at the top-left corner of the viewport.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arrays import as_points

_UP = {"y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0), "x": (1.0, 0.0, 0.0)}


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise ValueError("degenerate camera: zero-length direction")
    return v / n


@dataclass(frozen=True)
class Camera:
    """Perspective look-at camera for a ``width`` x ``height`` pixel viewport.

    Attributes
    ----------
    eye, center, up : tuple of 3 floats
        Camera position, look-at point and approximate up direction (world coordinates).
    fov_deg : float
        Vertical field of view in degrees.
    width, height : int
        Viewport size in pixels.
    """

    eye: tuple[float, float, float]
    center: tuple[float, float, float]
    up: tuple[float, float, float]
    fov_deg: float
    width: int
    height: int

    def __post_init__(self):
        if self.width < 1 or self.height < 1:
            raise ValueError(
                f"camera viewport must be at least 1x1 pixels, got {self.width}x{self.height}"
            )
        if not 0.0 < self.fov_deg < 180.0:
            raise ValueError(f"fov_deg must be in (0, 180), got {self.fov_deg}")

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels)."""
        return 0.5 * self.height / math.tan(math.radians(self.fov_deg) / 2.0)

    def intrinsic(self) -> np.ndarray:
        """3x3 intrinsic matrix K (float64)."""
        f = self.focal
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height / 2.0], [0.0, 0.0, 1.0]])

    def rotation(self) -> np.ndarray:
        """3x3 world-to-camera rotation (rows: right, down, forward)."""
        eye, center = np.asarray(self.eye, float), np.asarray(self.center, float)
        forward = _unit(center - eye)
        right = np.cross(forward, np.asarray(self.up, float))
        if np.linalg.norm(right) < 1e-9:  # looking along "up": pick any perpendicular
            right = np.cross(forward, np.array([1.0, 0.0, 0.0]))
            if np.linalg.norm(right) < 1e-9:
                right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
        right = _unit(right)
        down = np.cross(forward, right)
        return np.stack([right, down, forward])

    def extrinsic(self) -> np.ndarray:
        """4x4 world-to-camera matrix (float64)."""
        rot = self.rotation()
        out = np.eye(4)
        out[:3, :3] = rot
        out[:3, 3] = -rot @ np.asarray(self.eye, float)
        return out

    def project(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates and depth of points.

        Parameters
        ----------
        points : Tensor or ndarray (N, 3)

        Returns
        -------
        uv : ndarray float64 (N, 2)
            ``(u, v)`` pixel coordinates in the viewport (continuous; pixel ``(i, j)`` covers
            ``[i, i+1) x [j, j+1)``).
        depth : ndarray float64 (N,)
            Distance along the viewing direction (> 0 in front of the camera).
        """
        xyz = as_points(points)
        cam = (xyz - np.asarray(self.eye, float)) @ self.rotation().T
        depth = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = cam[:, :2] / depth[:, None] * self.focal
        uv = uv + np.array([self.width / 2.0, self.height / 2.0])
        return uv, depth

    def with_size(self, width: int, height: int) -> Camera:
        """The same view for another viewport size."""
        return Camera(self.eye, self.center, self.up, self.fov_deg, int(width), int(height))


def fit_camera(
    points,
    width: int,
    height: int,
    elev: float = 25.0,
    azim: float = 35.0,
    fov_deg: float = 30.0,
    up: str = "y",
    margin: float = 1.08,
) -> Camera:
    """A camera that looks at the cloud's bounding-box centre and fits its bounding sphere.

    Parameters
    ----------
    points : Tensor or ndarray (N, 3)
    width, height : int
        Viewport size in pixels.
    elev, azim : float
        Viewing direction in degrees: elevation above the horizontal plane, azimuth around the
        up axis (0 = looking from the +z side for ``up="y"``).
    fov_deg : float
        Vertical field of view.
    up : {"y", "z", "x"}
        The data set's up axis (ModelNet40 and ShapeNetPart are y-up).
    margin : float
        Extra room around the bounding sphere (1 = touching the border).
    """
    if up not in _UP:
        raise ValueError(f"up must be one of {sorted(_UP)}, got {up!r}")
    xyz = as_points(points)
    center = 0.5 * (xyz.min(axis=0) + xyz.max(axis=0))
    radius = max(float(np.linalg.norm(xyz - center, axis=1).max()), 1e-6)
    half_v = math.radians(fov_deg) / 2.0
    half_h = math.atan(math.tan(half_v) * width / height)
    dist = radius * margin / math.sin(min(half_v, half_h))
    e, a = math.radians(elev), math.radians(azim)
    # direction from the centre to the eye, in a frame where "up" is the second axis
    d = np.array([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)])
    if up == "z":
        d = np.array([d[2], d[0], d[1]])
    elif up == "x":
        d = np.array([d[1], d[2], d[0]])
    eye = center + dist * d
    return Camera(tuple(eye), tuple(center), _UP[up], float(fov_deg), int(width), int(height))


#: Default viewing direction (degrees): a three-quarter view from slightly above.
DEFAULT_ELEV = 25.0
DEFAULT_AZIM = 35.0

#: Per-class viewing directions ``(elev, azim)`` where the default hides the shape: flat objects
#: are seen from higher up. Classes not listed use ``(DEFAULT_ELEV, DEFAULT_AZIM)``.
CLASS_VIEWS: dict[str, tuple[float, float]] = {
    "airplane": (40.0, 35.0),
    "keyboard": (55.0, 20.0),
    "laptop": (30.0, 35.0),
    "bowl": (45.0, 35.0),
    "plant": (20.0, 35.0),
    "curtain": (15.0, 30.0),
}


def _up_index(up: str) -> int:
    if up not in _UP:
        raise ValueError(f"up must be one of {sorted(_UP)}, got {up!r}")
    return "xyz".index(up)


def principal_azimuth(points, up: str = "y") -> float:
    """Azimuth (degrees) of the cloud's main horizontal axis, with a deterministic sign.

    The first principal axis of the points projected onto the ground plane (perpendicular to
    ``up``), expressed in :func:`fit_camera`'s azimuth convention; its sign is chosen so that the
    third moment (skew) of the points along it is >= 0. Rotating a cloud about the up axis by
    ``t`` degrees shifts the result by ``t`` (modulo 360), so ``azim + principal_azimuth`` sees
    every rotated copy of a shape from the same side.

    Parameters
    ----------
    points : Tensor or ndarray (N, 3)
    up : {"y", "z", "x"}

    Returns
    -------
    float in [-180, 180); 0 for clouds without a horizontal extent.
    """
    xyz = as_points(points)
    u = _up_index(up)
    # fit_camera's frame: d = (cos e sin a, sin e, cos e cos a) in (A, up, B) axes
    a_axis, b_axis = {1: (0, 2), 2: (1, 0), 0: (2, 1)}[u]
    ground = xyz[:, [a_axis, b_axis]] - xyz[:, [a_axis, b_axis]].mean(0)
    if not np.abs(ground).max() > 0:
        return 0.0
    cov = ground.T @ ground / len(ground)
    evals, evecs = np.linalg.eigh(cov)
    axis = evecs[:, int(np.argmax(evals))]
    proj = ground @ axis
    skew = float((proj**3).mean())
    if skew < 0 or (skew == 0 and axis[np.argmax(np.abs(axis))] < 0):
        axis = -axis
    return float((math.degrees(math.atan2(axis[0], axis[1])) + 180.0) % 360.0 - 180.0)


def class_view(class_name: str | None) -> tuple[float, float]:
    """``(elev, azim)`` of a class (:data:`CLASS_VIEWS`, else the default), in degrees."""
    return CLASS_VIEWS.get(class_name or "", (DEFAULT_ELEV, DEFAULT_AZIM))


def canonical_view(points, class_name: str | None = None, up: str = "y",
                   align: str = "pca", elev: float | None = None,
                   azim: float | None = None) -> tuple[float, float]:
    """The viewing direction of a shape: the same for every shape of a class.

    Parameters
    ----------
    points : Tensor or ndarray (N, 3)
    class_name : str, optional
        Picks the class's ``(elev, azim)`` from :data:`CLASS_VIEWS`.
    up : {"y", "z", "x"}
    align : {"pca", "fixed"}
        ``"pca"``: the azimuth is measured from the shape's main horizontal axis
        (:func:`principal_azimuth`), so shapes of a class that differ by a rotation about the up
        axis (the synthetic data, unaligned scans) are all seen from the same side. ``"fixed"``:
        the azimuth is in world coordinates (data sets stored aligned, e.g. aligned ModelNet40).
    elev, azim : float, optional
        Override the class's values (azim still relative to the main axis with ``"pca"``).

    Returns
    -------
    (elev, azim) in degrees, for :func:`fit_camera`.
    """
    if align not in ("pca", "fixed"):
        raise ValueError(f"align must be 'pca' or 'fixed', got {align!r}")
    e, a = class_view(class_name)
    e = e if elev is None else float(elev)
    a = a if azim is None else float(azim)
    if align == "pca":
        a = a + principal_azimuth(points, up)
    return float(e), float((a + 180.0) % 360.0 - 180.0)
