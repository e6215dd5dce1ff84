"""Validated readers for the raw file formats of the public data sets: text point rows and HDF5.

Every reader raises :class:`~reldrop3d.data.base.DataError` naming the file (and the row where it
applies) for missing files, malformed rows, wrong column counts, NaN/inf values, absurd coordinates
(``|x| > MAX_ABS_COORDINATE``: such values overflow float32 arithmetic downstream), non-integer
labels, unreadable or truncated HDF5 files and missing HDF5 keys. Nothing is skipped silently.
Text files may start with a UTF-8 byte-order mark.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .base import DataError

#: coordinates beyond this magnitude are refused (the public data sets lie within |x| < 1e3;
#: squares of values >= ~1.8e19 overflow float32, which would collapse a whole shape)
MAX_ABS_COORDINATE = 1e9


def read_point_rows(path: str | Path, num_columns: int, delimiter: str | None = ",",
                    max_rows: int | None = None) -> np.ndarray:
    """Read a text file of ``num_columns`` numbers per row (blank lines are ignored).

    Parameters
    ----------
    path : path
        E.g. a ``modelnet40_normal_resampled`` shape (``x,y,z,nx,ny,nz`` rows, ``delimiter=","``)
        or a ShapeNetPart shape (``x y z nx ny nz part``, ``delimiter=None`` = any whitespace).
    num_columns : int
        Columns every row must have.
    delimiter : str or None
    max_rows : int, optional
        Read only the first ``max_rows`` rows (the rest of the file is neither parsed nor
        validated).

    Returns
    -------
    ndarray (R, num_columns) float32

    Raises
    ------
    DataError
        Missing or empty file, a row that is not ``num_columns`` numbers (the message gives the
        row), a NaN / inf value, or a coordinate (first three columns) beyond
        :data:`MAX_ABS_COORDINATE`.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
            rows = np.loadtxt(path, delimiter=delimiter, dtype=np.float32, ndmin=2,
                              comments=None, max_rows=max_rows, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: malformed row ({_short(err)})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err})") from None
    if rows.size == 0:
        raise DataError(f"{path}: no points (empty file)")
    if rows.shape[1] != num_columns:
        raise DataError(f"{path}: expected {num_columns} columns per row, found {rows.shape[1]}")
    check_finite(rows, path)
    check_coordinates(rows[:, :3], path)
    return rows


def _short(err: Exception) -> str:
    """numpy's parse error, with the 1-based line number (numpy counts conversion errors from 0,
    column-count changes from 1) and without its advice on ``usecols``."""
    msg = str(err).split(";")[0]
    m = re.search(r"at row (\d+)", msg)
    if m is None:
        return msg
    line = int(m[1]) + (1 if msg.startswith("could not convert") else 0)
    return f"line {line}: " + msg[:m.start()].rstrip() + msg[m.end():]


def check_finite(values: np.ndarray, path: str | Path, what: str = "point") -> None:
    """Raise :class:`DataError` if ``values`` (R, C) holds NaN or inf (names the first bad row)."""
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.nonzero(bad.reshape(len(values), -1).any(1))[0]
        raise DataError(
            f"{path}: {len(rows)} {what}(s) with NaN/inf values (first at row {int(rows[0]) + 1})"
        )


def check_coordinates(xyz: np.ndarray, path: str | Path, what: str = "point") -> None:
    """Raise :class:`DataError` if a coordinate of ``xyz`` (R, C) or (B, P, 3) exceeds
    :data:`MAX_ABS_COORDINATE` in magnitude (names the first bad row, or shape and point)."""
    bad = np.abs(xyz) > MAX_ABS_COORDINATE
    if not bad.any():
        return
    where = np.argwhere(bad)[0]
    value = float(xyz[tuple(where)])
    at = (f"shape {int(where[0]) + 1} point {int(where[1]) + 1}" if xyz.ndim == 3
          else f"row {int(where[0]) + 1}")
    raise DataError(f"{path}: absurd coordinate {value:.3g} at {what} {at} "
                    f"(|x| > {MAX_ABS_COORDINATE:.0e}; a unit error or a corrupt file?)")


def integer_values(values: np.ndarray, path: str | Path, key: str) -> np.ndarray:
    """``values`` as int64; :class:`DataError` naming ``key`` if any is not a whole number
    (float labels would otherwise be truncated silently)."""
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind != "f":
        raise DataError(f"{path}: HDF5 key {key!r} has dtype {values.dtype}, expected integers")
    flat = values.reshape(-1)
    bad = ~(np.isfinite(flat) & (flat == np.round(flat)))
    if bad.any():
        raise DataError(f"{path}: HDF5 key {key!r} holds non-integer value {float(flat[bad][0])!r} "
                        f"(at position {int(np.argmax(bad)) + 1}); expected whole numbers")
    return values.astype(np.int64)


def read_h5(path: str | Path, required: dict[str, int], optional: tuple[str, ...] = ()) -> dict:
    """Read whole data sets from an HDF5 file, checking keys and dimensions.

    Parameters
    ----------
    path : path
    required : dict of str to int
        Key -> number of dimensions it must have, e.g. ``{"data": 3, "label": 2}``; a ``label``
        of shape (B, 1) is also accepted as (B,).
    optional : tuple of str
        Keys read when present.

    Returns
    -------
    dict of str to ndarray
        All arrays share the leading dimension B.

    Raises
    ------
    DataError
        Missing, truncated or corrupt file, missing keys (the message lists the keys found),
        wrong dimensions, mismatching leading dimensions.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out = {}
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in required if k not in f]
            if missing:
                raise DataError(f"{path}: missing HDF5 key(s) {missing}; found {sorted(f.keys())}")
            for key in [*required, *(k for k in optional if k in f)]:
                out[key] = np.asarray(f[key][()])
    except DataError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise DataError(f"{path}: unreadable HDF5 file (truncated or corrupt?): {err}") from None
    b = None
    for key, arr in out.items():
        if key in required:
            want = required[key]
            if arr.ndim == want + 1 and arr.shape[-1] == 1 and want == 1:
                arr = out[key] = arr.reshape(-1)
            if arr.ndim != want:
                raise DataError(
                    f"{path}: HDF5 key {key!r} has shape {arr.shape}, expected {want} dimensions"
                )
        if b is None:
            b = len(arr)
        elif len(arr) != b:
            raise DataError(f"{path}: HDF5 key {key!r} has {len(arr)} rows, expected {b}")
    return out


def read_h5_clouds(path: str | Path, num_classes: int, per_point: tuple[str, ...] = (),
                   optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Validated point clouds of one HDF5 file of the PointNet releases.

    Parameters
    ----------
    path : path
    num_classes : int
        ``label`` must lie in ``[0, num_classes)``.
    per_point : tuple of str
        Further required keys with one value per point, e.g. ``("pid",)`` (B, P).
    optional : tuple of str
        Optional per-point keys of shape (B, P, 3), e.g. ``("normal",)``.

    Returns
    -------
    dict
        ``data`` (B, P, 3) float32, ``label`` (B,) int64, each ``per_point`` key (B, P) int64,
        each optional key present (B, P, 3) float32.

    Raises
    ------
    DataError
        See :func:`read_h5`; also wrong shapes, NaN/inf points, absurd coordinates, labels or
        per-point ids that are not whole numbers, labels out of range.
    """
    arrays = read_h5(path, {"data": 3, "label": 1, **{k: 2 for k in per_point}}, optional)
    data = arrays["data"]
    if data.shape[-1] != 3:
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected (B, P, 3)")
    check_finite(data.reshape(len(data), -1), path, "shape")
    check_coordinates(data, path)
    label = integer_values(arrays["label"], path, "label")
    bad = (label < 0) | (label >= num_classes)
    if bad.any():
        raise DataError(f"{path}: label {int(label[bad][0])} out of range [0, {num_classes})")
    out = {"data": data.astype(np.float32, copy=False), "label": label}
    for key in per_point:
        if arrays[key].shape != data.shape[:2]:
            raise DataError(f"{path}: {key!r} has shape {arrays[key].shape}, "
                            f"expected {data.shape[:2]}")
        out[key] = integer_values(arrays[key], path, key)
    for key in optional:
        if key in arrays:
            if arrays[key].shape != data.shape:
                raise DataError(f"{path}: {key!r} has shape {arrays[key].shape}, "
                                f"expected {data.shape}")
            check_finite(arrays[key].reshape(len(data), -1), path, "shape")
            out[key] = arrays[key].astype(np.float32, copy=False)
    return out


def read_lines(path: str | Path, what: str = "list file") -> list[str]:
    """Non-blank, stripped lines of a small text file (class names, split lists); a UTF-8
    byte-order mark (Windows editors) is dropped.

    Raises
    ------
    DataError
        Missing or empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read {what} ({err})") from None
    lines = [ln for ln in lines if ln]
    if not lines:
        raise DataError(f"{path}: {what} is empty")
    return lines


def read_class_names(path: str | Path) -> list[str]:
    """Class names, one per line, unique (e.g. ``modelnet40_shape_names.txt``)."""
    names = read_lines(path, "class-name list")
    seen = set()
    for i, n in enumerate(names):
        if n in seen or any(c.isspace() for c in n):
            raise DataError(f"{path}: bad or duplicate class name {n!r} on line {i + 1}")
        seen.add(n)
    return names
