"""Reading single point clouds from files for the viewer and ``reldrop3d render``.

Formats: ``.ply`` (own reader, keeps scalar properties such as ``relevance``), ``.pcd`` (ASCII and
binary; ``binary_compressed`` through Open3D), ``.off`` (meshes are sampled uniformly on the
surface, area-weighted; vertex-only files give their vertices), ``.txt`` / ``.xyz`` / ``.csv``
(ModelNet40 ``x,y,z[,nx,ny,nz]`` rows, comma or white-space separated; ShapeNetPart's
``x y z nx ny nz part`` rows give the part labels) and ``.npy`` / ``.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.base import DataError
from .ply import read_ply

SUFFIXES = (".ply", ".pcd", ".off", ".txt", ".xyz", ".csv", ".npy", ".npz")


def read_point_cloud(path, mesh_samples: int = 2048, seed: int = 0) -> dict:
    """Read one point cloud.

    Parameters
    ----------
    path : str or Path
    mesh_samples : int
        Points sampled on the surface of OFF meshes (files with faces).
    seed : int
        Seed of that sampling.

    Returns
    -------
    dict
        ``points`` float32 (N, 3); optional ``normals`` (N, 3), ``colors`` (N, 3) in [0, 1],
        ``scalars`` dict of (N,) arrays (e.g. ``relevance``, ``label``); ``path``.

    Raises
    ------
    FileNotFoundError, DataError
        Missing file, unknown suffix, corrupt content, empty cloud or NaN coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"point-cloud file not found: {path}")
    suffix = path.suffix.lower()
    readers = {".ply": read_ply, ".pcd": _read_pcd, ".npy": _read_npy, ".npz": _read_npy,
               ".off": lambda p: _read_off(p, mesh_samples, seed)}
    reader = readers.get(suffix, _read_text if suffix in (".txt", ".xyz", ".csv") else None)
    if reader is None:
        raise DataError(f"{path}: unsupported point-cloud format {suffix!r}; use one of {SUFFIXES}")
    out = reader(path)
    pts = out["points"]
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise DataError(f"{path}: no points (got array of shape {pts.shape})")
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts).all(1)).sum())
        raise DataError(f"{path}: {bad} points have NaN/inf coordinates")
    out.setdefault("scalars", {})
    out["path"] = path
    return out


def _from_columns(arr: np.ndarray, path: Path) -> dict:
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise DataError(f"{path}: expected rows of x y z [nx ny nz], got shape {arr.shape}")
    out = {"points": arr[:, :3].copy()}
    if arr.shape[1] >= 6:
        out["normals"] = arr[:, 3:6].copy()
    if arr.shape[1] == 7:  # ShapeNetPart rows: x y z nx ny nz part
        out["scalars"] = {"part": arr[:, 6].astype(np.int64)}
    return out


def _read_text(path: Path) -> dict:
    try:
        with open(path) as f:
            first = next((ln for ln in f if ln.strip() and not ln.startswith("#")), "")
        delim = "," if "," in first else None
        arr = np.loadtxt(path, delimiter=delim, ndmin=2, comments="#")
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a numeric x y z table: {err}") from err
    return _from_columns(arr, path)


def _read_npy(path: Path) -> dict:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: corrupt NumPy file: {err}") from err
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            key = next((k for k in ("points", "xyz", "pos", "data") if k in data.files), None)
            if key is None:
                raise DataError(f"{path}: .npz has no 'points' array (has {data.files})")
            out = _from_columns(data[key], path)
            n = len(out["points"])
            if "normals" in data.files:
                out["normals"] = np.asarray(data["normals"], np.float32)
            out["scalars"] = {k: np.asarray(data[k]) for k in data.files
                              if k not in (key, "normals") and data[k].shape == (n,)}
            return out
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    return _from_columns(data, path)


def _read_off(path: Path, mesh_samples: int, seed: int) -> dict:
    """OFF through the data module's robust reader; meshes are sampled on their surface
    (with the faces' normals), vertex-only files give their vertices."""
    from ..data.off import read_off, sample_surface

    try:
        vertices, triangles = read_off(path)
    except DataError:
        vertices = _off_vertices_only(path)  # a point cloud saved as OFF (0 faces) ...
        if vertices is None:
            raise  # ... or a broken mesh
        return {"points": vertices}
    if len(triangles) == 0:
        return {"points": vertices.astype(np.float32)}
    pts, normals = sample_surface(vertices, triangles, mesh_samples, np.random.default_rng(seed),
                                  path)
    return {"points": pts, "normals": normals}


def _off_vertices_only(path: Path) -> np.ndarray | None:
    """The vertices of an OFF file that declares 0 faces, else None."""
    lines = [ln.split("#")[0].strip() for ln in path.read_text(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0].startswith("OFF"):
        return None
    head = lines[0][3:].split() or (lines[1].split() if len(lines) > 1 else [])
    body = lines[1:] if lines[0][3:].split() else lines[2:]
    if len(head) < 2 or not head[0].isdigit() or head[1] != "0" or len(body) < int(head[0]):
        return None
    try:
        return np.array([r.split()[:3] for r in body[: int(head[0])]], dtype=np.float32)
    except ValueError:
        return None


_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4",
              ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4"}


def _read_pcd(path: Path) -> dict:
    with open(path, "rb") as f:
        header = {}
        while True:
            line = f.readline()
            if not line:
                raise DataError(f"{path}: PCD header has no DATA line")
            tok = line.decode("ascii", "replace").split()
            if not tok or tok[0].startswith("#"):
                continue
            header[tok[0].upper()] = tok[1:]
            if tok[0].upper() == "DATA":
                break
        body = f.read()
    try:
        names = header["FIELDS"]
        sizes = [int(s) for s in header["SIZE"]]
        types = header["TYPE"]
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(names))]
        n = int(header["POINTS"][0])
        kind = header["DATA"][0].lower()
    except (KeyError, ValueError, IndexError) as err:
        raise DataError(f"{path}: bad PCD header: {err}") from err
    cols = []
    for name, s, t, c in zip(names, sizes, types, counts):
        cols += [(name if c == 1 else f"{name}_{k}", _PCD_TYPES[(t, s)]) for k in range(c)]
    if kind == "ascii":
        try:
            table = np.loadtxt(body.decode("ascii").splitlines(), ndmin=2)
        except ValueError as err:
            raise DataError(f"{path}: bad PCD ascii data: {err}") from err
        fields = {name: table[:, i] for i, (name, _) in enumerate(cols)}
    elif kind == "binary":
        dtype = np.dtype([(name, "<" + t) for name, t in cols])
        if len(body) < dtype.itemsize * n:
            raise DataError(f"{path}: truncated PCD binary data")
        rec = np.frombuffer(body[: dtype.itemsize * n], dtype=dtype)
        fields = {name: rec[name] for name in dtype.names}
    else:  # binary_compressed (LZF): let Open3D decode it
        return _read_with_open3d(path)
    if not {"x", "y", "z"} <= fields.keys():
        raise DataError(f"{path}: PCD has no x y z fields")
    out = {"points": np.stack([fields[a] for a in "xyz"], 1).astype(np.float32)}
    if {"normal_x", "normal_y", "normal_z"} <= fields.keys():
        out["normals"] = np.stack([fields[f"normal_{a}"] for a in "xyz"], 1).astype(np.float32)
    if "rgb" in fields:  # packed 0x00RRGGBB, stored as uint32 or as the bits of a float32
        raw = fields["rgb"]
        rgb_type = dict(cols)["rgb"]
        if rgb_type == "f4":
            packed = np.ascontiguousarray(raw, dtype=np.float32).view(np.uint32)
        else:
            packed = np.asarray(raw).astype(np.uint32)
        rgb = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], 1)
        out["colors"] = (rgb / 255.0).astype(np.float32)
    skip = {"x", "y", "z", "normal_x", "normal_y", "normal_z", "rgb", "curvature"}
    out["scalars"] = {k: np.asarray(v, np.float64) for k, v in fields.items() if k not in skip}
    return out


def _read_with_open3d(path: Path) -> dict:
    try:
        import open3d as o3d
    except ImportError as err:
        raise DataError(f"{path}: compressed PCD needs open3d (pip install open3d)") from err
    pc = o3d.io.read_point_cloud(str(path))
    out = {"points": np.asarray(pc.points, np.float32)}
    if pc.has_normals():
        out["normals"] = np.asarray(pc.normals, np.float32)
    if pc.has_colors():
        out["colors"] = np.asarray(pc.colors, np.float32)
    return out
