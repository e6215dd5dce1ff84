"""Robust reader for OFF meshes (raw ModelNet) and area-weighted surface sampling.

The reader accepts what the raw ModelNet files and common mesh libraries write:

* the header keyword glued to the counts line (``OFF3514 3546 0``, a known ModelNet quirk), on
  its own line, or followed by the counts on the same line (``OFF 8 6 12``);
* ``COFF`` / ``NOFF`` / ``CNOFF`` headers (extra vertex columns are ignored);
* ``#`` comments (whole-line or trailing), blank lines, tabs and odd spacing;
* polygon faces of any size (fan-triangulated) and per-face colour columns (ignored).

Anything else (a missing header, counts that do not match the body, vertex indices out of
range, NaN/inf or absurd coordinates) raises :class:`DataError` naming the file; a mesh without
area passes :func:`read_off` but not :func:`check_surface` (which sampling applies).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .base import DataError
from .readers import check_coordinates, check_finite

_HEADER = re.compile(r"^(ST)?(C)?(N)?OFF(?=$|[\s\d+-])")


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an OFF mesh.

    Parameters
    ----------
    path : path

    Returns
    -------
    vertices : ndarray (V, 3) float64
    triangles : ndarray (T, 3) int64
        Polygon faces fan-triangulated (a k-gon gives k - 2 triangles); faces with fewer than
        three vertices are dropped.

    Raises
    ------
    DataError
        See the module docstring.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read OFF file ({err})") from None
    if "#" in text:
        text = re.sub(r"#[^\n]*", "", text)
    lines = [ln for ln in (raw.strip() for raw in text.splitlines()) if ln]
    if not lines:
        raise DataError(f"{path}: empty OFF file")
    m = _HEADER.match(lines[0])
    if m is None:
        raise DataError(f"{path}: not an OFF file (first line {lines[0][:40]!r})")
    rest = lines[0][m.end():].split()
    body = lines[1:]
    if not rest:
        if not body:
            raise DataError(f"{path}: OFF header without vertex/face counts")
        rest, body = body[0].split(), body[1:]
    try:
        nv, nf = int(rest[0]), int(rest[1])
    except (ValueError, IndexError):
        raise DataError(f"{path}: bad OFF counts line {' '.join(rest)!r}") from None
    if nv < 3 or nf < 1:
        raise DataError(f"{path}: OFF mesh with {nv} vertices and {nf} faces has no surface")
    if len(body) < nv + nf:
        raise DataError(
            f"{path}: truncated OFF file: header announces {nv} vertices + {nf} faces, "
            f"found {len(body)} lines"
        )
    vertices = _vertices(body[:nv], path)
    check_finite(vertices, path, "vertex")
    check_coordinates(vertices, path, "vertex")
    triangles = _faces(body[nv:nv + nf], nv, path)
    return vertices, triangles


def _vertices(lines: list[str], path: Path) -> np.ndarray:
    """(V, 3) float64 from vertex rows ``x y z [extra ...]``."""
    n = len(lines)
    table = _loadtxt(lines)
    if table is not None and table.shape[1] >= 3:
        return table[:, :3]
    out = np.empty((n, 3))
    for i, ln in enumerate(lines):
        tok = ln.split()
        if len(tok) < 3:
            raise DataError(f"{path}: vertex row {i + 1} has {len(tok)} values, need 3")
        try:
            out[i] = [float(t) for t in tok[:3]]
        except ValueError:
            raise DataError(f"{path}: malformed vertex row {i + 1}: {ln[:60]!r}") from None
    return out


def _faces(lines: list[str], nv: int, path: Path) -> np.ndarray:
    """Fan-triangulate face rows ``k i_1 .. i_k [colour ...]`` -> (T, 3) int64."""
    groups = _uniform_faces(lines) or _mixed_faces(lines, path)
    tris = []
    for k, faces in groups.items():
        if k < 3:
            continue
        fan = np.arange(1, k - 1)
        first = np.repeat(faces[:, :1], k - 2, 1)
        tris.append(np.stack([first, faces[:, fan], faces[:, fan + 1]], -1).reshape(-1, 3))
    if not tris:
        raise DataError(f"{path}: no faces with 3 or more vertices")
    triangles = np.concatenate(tris)
    if triangles.min() < 0 or triangles.max() >= nv:
        raise DataError(
            f"{path}: face vertex index out of range [0, {nv}): "
            f"{int(triangles.min())}..{int(triangles.max())}"
        )
    return triangles


def _uniform_faces(lines: list[str]) -> dict[int, np.ndarray] | None:
    """Fast path: every row has the same width and the same vertex count k (vectorised)."""
    table = _loadtxt(lines)
    if table is None or table.shape[1] < 2:
        return None
    k = int(table[0, 0])
    if not (table[:, 0] == k).all() or k < 1 or k + 1 > table.shape[1]:
        return None
    idx = table[:, 1:k + 1]
    if not (idx == np.round(idx)).all():
        return None
    return {k: idx.astype(np.int64)}


def _loadtxt(lines: list[str]) -> np.ndarray | None:
    """(R, W) float64 when every row has the same width W and parses, else None."""
    try:
        return np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        return None


def _mixed_faces(lines: list[str], path: Path) -> dict[int, np.ndarray]:
    """Row by row: faces of different sizes, or rows that the fast path cannot take."""
    groups: dict[int, list[list[int]]] = {}
    for i, ln in enumerate(lines):
        tok = ln.split()
        try:
            k = int(tok[0])
            idx = [int(t) for t in tok[1:k + 1]]
        except ValueError:
            raise DataError(f"{path}: malformed face row {i + 1}: {ln[:60]!r}") from None
        if len(idx) != k:
            raise DataError(f"{path}: face row {i + 1} announces {k} vertices, has {len(idx)}")
        groups.setdefault(k, []).append(idx)
    return {k: np.array(v, dtype=np.int64).reshape(len(v), k) for k, v in groups.items()}


def triangle_areas_normals(vertices: np.ndarray, triangles: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Areas (T,) and unit normals (T, 3) of triangles (V, 3) x (T, 3) (degenerate: zero normal)."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    norm = np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(norm, 1e-300)[:, None]
    return 0.5 * norm, normals


def check_surface(vertices: np.ndarray, triangles: np.ndarray, path: str | Path = "<mesh>"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Areas (T,) and unit normals (T, 3) of a mesh that has a surface to sample.

    Raises
    ------
    DataError
        The mesh has zero (or non-finite) total area: every face is degenerate.
    """
    areas, normals = triangle_areas_normals(vertices, triangles)
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise DataError(f"{path}: mesh has zero surface area (all faces degenerate)")
    return areas, normals


def sample_surface(
    vertices: np.ndarray, triangles: np.ndarray, num_points: int, rng: np.random.Generator,
    path: str | Path = "<mesh>",
) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted uniform sampling of a triangle mesh surface.

    Parameters
    ----------
    vertices : ndarray (V, 3)
    triangles : ndarray (T, 3) int
    num_points : int
        M, points to draw.
    rng : numpy.random.Generator
    path : path, optional
        Named in errors.

    Returns
    -------
    points : ndarray (M, 3) float32
        Uniform on the surface: a triangle is picked with probability proportional to its area,
        then a point uniformly inside it (``sqrt`` barycentric trick).
    normals : ndarray (M, 3) float32
        The unit normal of the picked triangle (orientation follows the face winding).

    Raises
    ------
    DataError
        The mesh has zero total area.
    """
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    areas, normals = check_surface(vertices, triangles, path)
    cdf = np.cumsum(areas)
    face = np.searchsorted(cdf, rng.random(num_points) * cdf[-1], side="right")
    face = np.minimum(face, len(areas) - 1)
    r1 = np.sqrt(rng.random((num_points, 1)))
    r2 = rng.random((num_points, 1))
    a, b, c = (vertices[triangles[face, i]] for i in range(3))
    pts = (1 - r1) * a + r1 * (1 - r2) * b + r1 * r2 * c
    return pts.astype(np.float32), normals[face].astype(np.float32)
