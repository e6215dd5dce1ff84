"""ModelNet40 / ModelNet10 in their three public formats.

========== ===================================== ==============================================
format     folder (inside ``root``, or ``root``)  contents
========== ===================================== ==============================================
``h5``     ``modelnet40_ply_hdf5_2048``           ``ply_data_{train,test}N.h5`` (``data`` (B, 2048,
                                                  3), ``label`` (B, 1), optional ``normal``),
                                                  ``{train,test}_files.txt`` (lines with a path
                                                  prefix: the basename is used), ``shape_names.txt``
``normal`` ``modelnet40_normal_resampled``        ``modelnet40_shape_names.txt``,
                                                  ``modelnet40_{train,test}.txt`` (and
                                                  ``modelnet10_*``), ``<class>/<id>.txt``: 10,000
                                                  rows ``x,y,z,nx,ny,nz``
``off``    ``ModelNet40`` / ``ModelNet10``        raw meshes ``<class>/{train,test}/<id>.off``
========== ===================================== ==============================================

``format="auto"`` takes the first of h5, normal, off found under ``root``. ModelNet10 from the
``h5`` release is the ModelNet40 data restricted to the ten ModelNet10 classes.

Points: ``normal`` takes the first N rows (``sampling="first"``, the PointNet++ default) or
farthest point samples N (``"fps"``, batched); ``off`` samples the mesh surface uniformly by area
(``"random"``) or samples ``fps_candidates`` points and reduces them by FPS (``"fps"``), with face
normals; ``h5`` takes the first N of the 2048 points (or FPS). The sampled arrays of ``normal`` and
``off`` (and of ``h5`` with FPS) are cached on disk (:mod:`.cache`). Every file is read and
validated whole, whatever the sampling, so that training and ``reldrop3d data check`` agree.
Every cloud is centred and scaled into the unit sphere unless ``normalize=False``.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import numpy as np

from . import register_dataset
from .arrays import ArrayDataset, Entry, SplitIndex, cached_arrays, sample_entries
from .base import DataError
from .off import check_surface, read_off, sample_surface
from .readers import read_class_names, read_h5_clouds, read_lines, read_point_rows
from .resample import FPS_SAMPLINGS, check_point_count, check_sampling, select_points

log = logging.getLogger(__name__)

MODELNET40_CLASSES = [
    "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone",
    "cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard",
    "lamp", "laptop", "mantel", "monitor", "night_stand", "person", "piano", "plant", "radio",
    "range_hood", "sink", "sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase",
    "wardrobe", "xbox",
]
MODELNET10_CLASSES = [
    "bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table",
    "toilet",
]
CANONICAL = {"modelnet40": MODELNET40_CLASSES, "modelnet10": MODELNET10_CLASSES}
FORMATS = ("h5", "normal", "off")
SPLITS = ("train", "test")
RELEASE_DIRS = {
    "h5": {"modelnet40": "modelnet40_ply_hdf5_2048", "modelnet10": "modelnet40_ply_hdf5_2048"},
    "normal": {"modelnet40": "modelnet40_normal_resampled",
               "modelnet10": "modelnet40_normal_resampled"},
    "off": {"modelnet40": "ModelNet40", "modelnet10": "ModelNet10"},
}
SAMPLINGS = {"h5": ("first", "fps", "fps_random", "random"),
             "normal": ("first", "fps", "fps_random", "random"), "off": ("random", "fps")}
DEFAULT_SAMPLING = {"h5": "first", "normal": "first", "off": "random"}
_ID = re.compile(r"(.+)_(\d+)")


# -- locating a format ---------------------------------------------------------------------------
def _is_format(folder: Path, name: str, fmt: str) -> bool:
    if fmt == "normal":
        return (folder / f"{name}_shape_names.txt").is_file()
    if fmt == "h5":
        return (folder / "shape_names.txt").is_file() and (
            (folder / "train_files.txt").is_file() or any(folder.glob("ply_data_*.h5")))
    return any((d / s).is_dir() for d in folder.iterdir() if d.is_dir() for s in SPLITS)


def locate(root: str | Path, name: str, fmt: str = "auto") -> tuple[str, Path]:
    """Find the format and the folder of ModelNet data under ``root``.

    Parameters
    ----------
    root : path
        The release folder itself or a folder containing it (e.g. ``data/modelnet40`` holding
        ``modelnet40_normal_resampled/``).
    name : {"modelnet40", "modelnet10"}
    fmt : {"auto", "h5", "normal", "off"}

    Returns
    -------
    (format, folder)

    Raises
    ------
    DataError
        ``root`` is missing or holds no data in the format asked for.
    """
    root = Path(root)
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"{name}: format must be 'auto' or one of {FORMATS}, got {fmt!r}")
    if not root.is_dir():
        raise DataError(f"{root}: {name} data folder not found (see data/README.md)")
    for f in FORMATS if fmt == "auto" else (fmt,):
        for folder in (root, root / RELEASE_DIRS[f][name]):
            if folder.is_dir() and _is_format(folder, name, f):
                return f, folder
    wanted = "any of " + ", ".join(FORMATS) if fmt == "auto" else f"format {fmt!r}"
    raise DataError(
        f"{root}: no {name} data in {wanted} (looked in {root} and its subfolders "
        f"{sorted({d[name] for d in RELEASE_DIRS.values()})}; see data/README.md)"
    )


# -- indexing ------------------------------------------------------------------------------------
def index_split(folder: str | Path, name: str, fmt: str, split: str) -> SplitIndex:
    """The shapes of one split (see :class:`.arrays.SplitIndex`); problems are collected.

    Raises
    ------
    DataError
        Only for problems that leave nothing to index (missing class-name or split list).
    """
    if split not in SPLITS:
        raise ValueError(f"{name} has the splits {SPLITS}, got {split!r}")
    folder = Path(folder)
    return {"normal": _index_normal, "h5": _index_h5, "off": _index_off}[fmt](folder, name, split)


def _index_normal(folder: Path, name: str, split: str) -> SplitIndex:
    names_file, list_file = folder / f"{name}_shape_names.txt", folder / f"{name}_{split}.txt"
    classes = read_class_names(names_file)
    idx = SplitIndex(name, "normal", split, folder, classes, sources=[names_file, list_file])
    lookup = {c: i for i, c in enumerate(classes)}
    seen: set[str] = set()
    for line_no, shape_id in enumerate(read_lines(list_file, "split list"), 1):
        m = _ID.fullmatch(shape_id)
        where = f"{list_file}:{line_no}"
        if m is None:
            idx.problems.append(f"{where}: malformed shape id {shape_id!r} (expected <class>_NNNN)")
            continue
        if m[1] not in lookup:
            idx.problems.append(f"{where}: unknown class {m[1]!r} of {shape_id!r} "
                                f"(not in {names_file.name})")
            continue
        if shape_id in seen:
            idx.problems.append(f"{where}: duplicate shape id {shape_id!r}")
            continue
        seen.add(shape_id)
        path = folder / m[1] / f"{shape_id}.txt"
        if not path.is_file():
            idx.missing.append(f"{path}: missing (listed in {list_file.name} line {line_no})")
            continue
        idx.entries.append(Entry(path, lookup[m[1]], shape_id))
    return idx


def _index_off(folder: Path, name: str, split: str) -> SplitIndex:
    classes = CANONICAL[name]
    idx = SplitIndex(name, "off", split, folder, list(classes))
    lookup = {c: i for i, c in enumerate(classes)}
    class_dirs = sorted(d for d in folder.iterdir()
                        if d.is_dir() and not d.name.startswith((".", "__")))  # __MACOSX
    with_split = [d for d in class_dirs if (d / split).is_dir()]
    if not with_split:
        raise DataError(f"{folder}: no <class>/{split}/ folders with .off meshes")
    for d in class_dirs:
        if d.name not in lookup:
            if name == "modelnet10" and d.name in MODELNET40_CLASSES:
                continue  # a ModelNet40 folder used for ModelNet10: other classes are skipped
            idx.problems.append(f"{d}: unknown class folder (not a {name} class)")
            continue
        sub = d / split
        if not sub.is_dir():
            idx.problems.append(f"{sub}: missing folder ({d.name} has no {split} split)")
            continue
        files = sorted(sub.glob("*.off"))
        if not files:
            idx.problems.append(f"{sub}: no .off files")
        idx.entries += [Entry(p, lookup[d.name], p.stem) for p in files]
    return idx


def _index_h5(folder: Path, name: str, split: str) -> SplitIndex:
    names_file, list_file = folder / "shape_names.txt", folder / f"{split}_files.txt"
    classes = read_class_names(names_file)
    idx = SplitIndex(name, "h5", split, folder, classes, sources=[names_file, list_file])
    if name == "modelnet10":
        unknown = [c for c in MODELNET10_CLASSES if c not in classes]
        if unknown:
            raise DataError(f"{names_file}: lacks the ModelNet10 classes {unknown}")
        idx.classes = list(MODELNET10_CLASSES)
        idx.label_map = np.array([idx.classes.index(c) if c in idx.classes else -1
                                  for c in classes])
    for line_no, line in enumerate(read_lines(list_file, "h5 file list"), 1):
        path = folder / Path(line).name  # lines carry the release's path prefix
        if not path.is_file():
            idx.missing.append(f"{path}: missing (listed in {list_file.name} line {line_no})")
        else:
            idx.entries.append(Entry(path, -1, path.stem))
    return idx


# -- reading -------------------------------------------------------------------------------------
def read_normal_shape(entry: Entry) -> np.ndarray:
    """(R, 6) float32 rows ``x, y, z, nx, ny, nz`` of a ``modelnet40_normal_resampled`` shape.

    The whole file is read and validated, also for ``sampling="first"``, so that training and
    ``reldrop3d data check`` accept and refuse the same files (a file truncated or holding NaN
    after row N is refused either way); the sampled arrays are cached, so this happens once.
    """
    return read_point_rows(entry.path, 6, ",")


def read_off_shape(entry: Entry, num_points: int, seed: int = 0) -> np.ndarray:
    """(num_points, 6) points + face normals sampled from the mesh of ``entry`` (deterministic
    per shape id and seed)."""
    vertices, triangles = read_off(entry.path)
    rng = np.random.default_rng([int(seed), zlib.crc32(entry.shape_id.encode())])
    pts, nrm = sample_surface(vertices, triangles, num_points, rng, entry.path)
    return np.concatenate([pts, nrm], 1)


def read_h5_file(path: Path, num_classes: int, need_normals: bool = False) -> dict[str, np.ndarray]:
    """Validated arrays of one ModelNet h5 file: ``data`` (B, P, 3) float32, ``label`` (B,) int64,
    ``normal`` (B, P, 3) when present (required with ``need_normals``)."""
    arrays = read_h5_clouds(path, num_classes, optional=("normal",))
    if need_normals and "normal" not in arrays:
        raise DataError(f"{path}: no 'normal' key; this h5 release has no normals "
                        "(use use_normals=False or the normal/off format)")
    return arrays


def validate_entry(index: SplitIndex, entry: Entry, num_points: int | None = None) -> np.ndarray:
    """Read one entry fully, as training would (raising :class:`DataError` if it is bad);
    returns its labels (K,).

    Parameters
    ----------
    index : SplitIndex
    entry : Entry
    num_points : int, optional
        Also refuse shapes with fewer points (``normal`` rows, ``h5`` points per shape), which
        training with this many points refuses; OFF meshes are sampled to any count.
    """
    if index.fmt == "normal":
        rows = read_normal_shape(entry)
        if num_points is not None:
            check_point_count(len(rows), num_points, entry.path)
        return np.array([entry.label])
    if index.fmt == "off":
        check_surface(*read_off(entry.path), entry.path)
        return np.array([entry.label])
    arrays = read_h5_file(entry.path, index.num_file_classes)
    if num_points is not None:
        check_point_count(arrays["data"].shape[1], num_points, entry.path, "points per shape")
    return index.map_labels(arrays["label"])


def _load_h5(index: SplitIndex, num_points: int, sampling: str, use_normals: bool,
             seed: int) -> dict[str, np.ndarray]:
    data, normal, label = [], [], []
    for e in index.entries:
        arrays = read_h5_file(e.path, index.num_file_classes, need_normals=use_normals)
        check_point_count(arrays["data"].shape[1], num_points, e.path, "points per shape")
        labels = index.map_labels(arrays["label"])
        keep = labels >= 0
        data.append(arrays["data"][keep])
        label.append(labels[keep])
        if use_normals:
            normal.append(arrays["normal"][keep])
    rows = np.concatenate(data)
    if use_normals:
        rows = np.concatenate([rows, np.concatenate(normal)], -1)
    rows = select_points(list(rows), num_points, sampling, seed=seed)
    out = {"points": rows[..., :3], "labels": np.concatenate(label)}
    if use_normals:
        out["normals"] = rows[..., 3:]
    return out


# -- the data sets -------------------------------------------------------------------------------
def load_modelnet(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    num_points: int = 1024,
    use_normals: bool = False,
    format: str = "auto",  # noqa: A002 - the CLI's --format
    sampling: str | None = None,
    cache_dir: str | Path | None | bool = None,
    seed: int = 0,
    normalize: bool = True,
    fps_candidates: int = 10000,
    skip_missing: bool = False,
) -> ArrayDataset:
    """Build ModelNet40 or ModelNet10 (see the module docstring for formats and sampling).

    Parameters
    ----------
    name : {"modelnet40", "modelnet10"}
    split : {"train", "test"}
    root : path, optional
        Default ``data/<name>`` relative to the working directory.
    num_points : int
        N points per shape.
    use_normals : bool
        Samples carry ``normals`` (N, 3) (h5 only if the files have a ``normal`` key).
    format : {"auto", "h5", "normal", "off"}
    sampling : {"first", "fps", "fps_random", "random"}, optional
        Default: ``first`` for h5/normal, ``random`` (uniform on the surface) for off.
    cache_dir : path, None or False
        Cache folder (None: the default, see :mod:`.cache`; False: no cache).
    seed : int
        Seed of random sampling (per shape, so it is independent of chunking and order).
    normalize : bool
        Centre every cloud and scale it into the unit sphere.
    fps_candidates : int
        ``off`` + ``fps``: surface points drawn before FPS reduces them to N.
    skip_missing : bool
        Shapes (``normal``) or files (``h5``) named by the split lists but missing on disk are
        left out, with a logged warning of how many (a partial download); by default they are
        a :class:`DataError`.

    Returns
    -------
    ArrayDataset
        With ``classes`` the full class list (40 or 10, also when some classes have no shapes),
        ``shape_ids``, ``format`` and ``root`` (the folder read).
    """
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    root = Path("data") / name if root is None else Path(root)
    fmt, folder = locate(root, name, format)
    sampling = DEFAULT_SAMPLING[fmt] if sampling is None else sampling
    check_sampling(sampling, SAMPLINGS[fmt], f"{name} ({fmt}): ")
    index = index_split(folder, name, fmt, split)
    index.raise_problems(skip_missing)
    if not index.entries:
        raise DataError(f"{folder}: the {split} split of {name} ({fmt}) has no shapes"
                        + (f" ({index.listed} listed, all missing)" if index.missing else ""))
    missing = [c for c in index.classes if c not in index.class_counts()]
    if fmt != "h5" and missing:
        log.info("%s %s: no %s shapes of %d class(es): %s%s", name, fmt, split, len(missing),
                 ", ".join(missing[:5]), ", ..." if len(missing) > 5 else "")

    def build() -> dict[str, np.ndarray]:
        if fmt == "h5":
            return _load_h5(index, num_points, sampling, use_normals, seed)
        if fmt == "normal":
            rows = sample_entries(index.entries, read_normal_shape, num_points, sampling, seed=seed)
        else:  # off: "random" draws exactly N surface points; "fps" reduces candidates
            count = num_points if sampling == "random" else max(fps_candidates, num_points)
            rows = sample_entries(index.entries, lambda e: read_off_shape(e, count, seed),
                                  num_points, "first" if sampling == "random" else "fps")
        out = {"points": rows[..., :3], "labels": np.array([e.label for e in index.entries]),
               "shape_ids": np.array([e.shape_id for e in index.entries])}
        if use_normals:
            out["normals"] = rows[..., 3:]
        return out

    key = dict(n=num_points, sampling=sampling, normals=use_normals, seed=seed)
    if fmt == "off" and sampling == "fps":
        key["cand"] = fps_candidates
    arrays = cached_arrays(index, build, cache_dir, fmt != "h5" or sampling in FPS_SAMPLINGS, **key)
    ds = ArrayDataset(
        name, split, index.classes, arrays["points"], arrays["labels"],
        normals=arrays.get("normals"),
        shape_ids=[str(s) for s in arrays["shape_ids"]] if "shape_ids" in arrays else None,
        normalize=normalize,
    )
    ds.format, ds.root = fmt, folder
    return ds


@register_dataset("modelnet40")
def modelnet40(split: str = "train", root=None, num_points: int = 1024, use_normals: bool = False,
               format: str = "auto", sampling: str | None = None, cache_dir=None,  # noqa: A002
               **kwargs) -> ArrayDataset:
    """ModelNet40 (40 classes); see :func:`load_modelnet` (default root ``data/modelnet40``)."""
    return load_modelnet("modelnet40", split, root, num_points, use_normals, format, sampling,
                         cache_dir, **kwargs)


@register_dataset("modelnet10")
def modelnet10(split: str = "train", root=None, num_points: int = 1024, use_normals: bool = False,
               format: str = "auto", sampling: str | None = None, cache_dir=None,  # noqa: A002
               **kwargs) -> ArrayDataset:
    """ModelNet10 (10 classes); see :func:`load_modelnet` (default root ``data/modelnet10``)."""
    return load_modelnet("modelnet10", split, root, num_points, use_normals, format, sampling,
                         cache_dir, **kwargs)
