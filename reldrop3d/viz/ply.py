"""A small, dependency-free PLY reader and writer for point clouds.

Writes ``x y z`` (float32), optional normals ``nx ny nz`` (float32), colours ``red green blue``
(uchar, what Open3D, MeshLab and CloudCompare read) and any number of named per-vertex scalar
properties (float32, e.g. ``relevance``; CloudCompare shows them as scalar fields). Reads ASCII and
binary (little and big endian) files; the ``vertex`` element may be preceded or followed by other
elements (faces are skipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.base import DataError
from ..utils.io import atomic_path
from .arrays import as_points, as_values, to_numpy

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_RESERVED = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha"}


def _colors_u8(colors, n: int) -> np.ndarray:
    c = to_numpy(colors)
    if c.shape != (n, 3):
        raise ValueError(f"colors must have shape ({n}, 3), got {c.shape}")
    if c.dtype == np.uint8:
        return c
    c = np.asarray(c, dtype=np.float64)
    if not np.isfinite(c).all() or c.min() < 0 or c.max() > 1:
        raise ValueError("float colors must be finite RGB values in [0, 1]")
    return np.rint(c * 255).astype(np.uint8)


def write_ply(
    path,
    points,
    colors=None,
    normals=None,
    scalars: dict | None = None,
    binary: bool = True,
) -> Path:
    """Write a point cloud to PLY (atomically).

    Parameters
    ----------
    path : str or Path
    points : Tensor or ndarray (N, 3)
    colors : Tensor or ndarray (N, 3), optional
        Float RGB in [0, 1] or uint8.
    normals : Tensor or ndarray (N, 3), optional
    scalars : dict of str to (N,) arrays, optional
        Extra per-vertex float properties, e.g. ``{"relevance": r}``.
    binary : bool
        ``binary_little_endian`` (default, compact) or ``ascii``.

    Returns
    -------
    Path
    """
    xyz = as_points(points)
    n = len(xyz)
    fields: list[tuple[str, str, np.ndarray]] = [(a, "f4", xyz[:, i]) for i, a in enumerate("xyz")]
    if normals is not None:
        nrm = as_points(normals, name="normals")
        if len(nrm) != n:
            raise ValueError(f"normals have {len(nrm)} rows but there are {n} points")
        fields += [(a, "f4", nrm[:, i]) for i, a in enumerate(("nx", "ny", "nz"))]
    if colors is not None:
        rgb = _colors_u8(colors, n)
        fields += [(a, "u1", rgb[:, i]) for i, a in enumerate(("red", "green", "blue"))]
    for name, values in (scalars or {}).items():
        if not name.isidentifier() or name in _RESERVED:
            raise ValueError(f"invalid scalar property name {name!r}")
        fields.append((name, "f4", as_values(values, n, name=name)))
    ply_name = {"f4": "float", "u1": "uchar"}
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
              "comment written by reldrop3d", f"element vertex {n}"]
    header += [f"property {ply_name[t]} {name}" for name, t, _ in fields]
    header.append("end_header")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            rec = np.empty(n, dtype=[(name, "<" + t) for name, t, _ in fields])
            for name, _, col in fields:
                rec[name] = col
            f.write(rec.tobytes())
        else:
            fmt = " ".join("%d" if t == "u1" else "%.9g" for _, t, _ in fields)
            cols = np.column_stack([col.astype(np.float64) for _, _, col in fields])
            np.savetxt(f, cols, fmt=fmt)
    return path


def _parse_header(f, path: Path):
    if f.readline().strip() != b"ply":
        raise DataError(f"{path} is not a PLY file (no 'ply' magic)")
    fmt, elements = None, []
    while True:
        line = f.readline()
        if not line:
            raise DataError(f"{path}: PLY header has no end_header")
        tok = line.decode("ascii", "replace").split()
        if not tok or tok[0] in ("comment", "obj_info"):
            continue
        if tok[0] == "end_header":
            break
        if tok[0] == "format":
            fmt = tok[1]
        elif tok[0] == "element":
            elements.append({"name": tok[1], "count": int(tok[2]), "props": []})
        elif tok[0] == "property":
            if not elements:
                raise DataError(f"{path}: PLY property before any element")
            if tok[1] == "list":
                elements[-1]["props"].append((tok[4], "list", _TYPES[tok[2]], _TYPES[tok[3]]))
            else:
                if tok[1] not in _TYPES:
                    raise DataError(f"{path}: unknown PLY property type {tok[1]!r}")
                elements[-1]["props"].append((tok[2], _TYPES[tok[1]]))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise DataError(f"{path}: unsupported PLY format {fmt!r}")
    return fmt, elements


def _skip_binary_lists(f, element, endian: str, path: Path) -> None:
    for _ in range(element["count"]):
        for prop in element["props"]:
            if prop[1] == "list":
                cnt_t, item_t = np.dtype(endian + prop[2]), np.dtype(endian + prop[3])
                cnt = int(np.frombuffer(f.read(cnt_t.itemsize), cnt_t)[0])
                f.read(cnt * item_t.itemsize)
            else:
                f.read(np.dtype(prop[1]).itemsize)


def read_ply(path) -> dict:
    """Read the vertices of a PLY file.

    Returns
    -------
    dict
        ``points`` float32 (N, 3); when present ``normals`` float32 (N, 3), ``colors`` float32
        (N, 3) in [0, 1]; ``scalars``: dict of every other vertex property as (N,) arrays.

    Raises
    ------
    FileNotFoundError, DataError
        Missing file; not a PLY, truncated, or no x/y/z vertex properties.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"point-cloud file not found: {path}")
    with open(path, "rb") as f:
        fmt, elements = _parse_header(f, path)
        endian = "<" if fmt == "binary_little_endian" else ">"
        vertex = None
        ascii_lines = f.read().decode("ascii", "replace").splitlines() if fmt == "ascii" else None
        line_no = 0
        for el in elements:
            is_vertex = el["name"] == "vertex"
            has_list = any(p[1] == "list" for p in el["props"])
            if fmt == "ascii":
                rows = ascii_lines[line_no : line_no + el["count"]]
                line_no += el["count"]
                if len(rows) < el["count"]:
                    raise DataError(f"{path}: truncated PLY (element {el['name']!r})")
                if is_vertex:
                    if has_list:
                        raise DataError(f"{path}: list properties on vertices are not supported")
                    try:
                        table = np.array([r.split() for r in rows], dtype=np.float64)
                    except ValueError as err:
                        raise DataError(f"{path}: bad PLY vertex data: {err}") from err
                    if table.shape != (el["count"], len(el["props"])):
                        raise DataError(f"{path}: PLY vertex rows do not match the header")
                    vertex = {p[0]: table[:, i] for i, p in enumerate(el["props"])}
                    break
                continue
            if has_list:
                if is_vertex:
                    raise DataError(f"{path}: list properties on vertices are not supported")
                _skip_binary_lists(f, el, endian, path)
                continue
            dtype = np.dtype([(p[0], endian + p[1]) for p in el["props"]])
            raw = f.read(dtype.itemsize * el["count"])
            if len(raw) < dtype.itemsize * el["count"]:
                raise DataError(f"{path}: truncated PLY (element {el['name']!r})")
            if is_vertex:
                rec = np.frombuffer(raw, dtype=dtype)
                vertex = {name: rec[name].astype(np.float64) for name in dtype.names}
                break
    if vertex is None:
        raise DataError(f"{path}: PLY file has no vertex element")
    if not {"x", "y", "z"} <= vertex.keys():
        raise DataError(f"{path}: PLY vertices have no x/y/z properties")
    out = {"points": np.stack([vertex.pop(a) for a in "xyz"], 1).astype(np.float32)}
    if {"nx", "ny", "nz"} <= vertex.keys():
        out["normals"] = np.stack([vertex.pop(a) for a in ("nx", "ny", "nz")], 1).astype(np.float32)
    if {"red", "green", "blue"} <= vertex.keys():
        rgb = np.stack([vertex.pop(a) for a in ("red", "green", "blue")], 1)
        scale = 255.0 if rgb.max(initial=0) > 1.0 or _is_int(elements, "red") else 1.0
        out["colors"] = (rgb / scale).astype(np.float32)
    vertex.pop("alpha", None)
    out["scalars"] = vertex
    return out


def _is_int(elements, prop: str) -> bool:
    for el in elements:
        if el["name"] == "vertex":
            for p in el["props"]:
                if p[0] == prop:
                    return p[1][0] in "iu"
    return False

