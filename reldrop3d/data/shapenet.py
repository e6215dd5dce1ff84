"""ShapeNetPart (part segmentation, 16 categories, 50 global part ids) in its two public formats,
and the 16-category ShapeNet classification view of the same files.

========== ========================================================= ==============================
format     folder (inside ``root``, or ``root``)                      contents
========== ========================================================= ==============================
``normal`` ``shapenetcore_partanno_segmentation_benchmark_v0_normal`` ``synsetoffset2category.txt``,
                                                                      ``train_test_split/shuffled_
                                                                      {train,val,test}_file_list.
                                                                      json`` (entries ``shape_data/
                                                                      <synset>/<token>``), shapes
                                                                      ``<synset>/<token>.txt``: rows
                                                                      ``x y z nx ny nz part``
``h5``     ``hdf5_data``                                              ``ply_data_{train,val,test}N.
                                                                      h5`` (``data``, ``label`` =
                                                                      category, ``pid`` = global
                                                                      part id), ``{split}_hdf5_file_
                                                                      list.txt``
========== ========================================================= ==============================

Labels: ``label`` is the category index in :data:`CATEGORIES` (the order of
``synsetoffset2category.txt``); ``parts`` are global part ids 0..49, and :data:`PARTS_OF_CLASS`
gives each category's ids. A part id outside its category's range is a :class:`DataError`.

Points: shapes have ~2,000-3,000 points; N are drawn at random without replacement (fixed per
shape and seed), by FPS, or the first N; a shape with fewer than N points keeps all its points
plus randomly repeated ones (the usual ShapeNetPart practice). Normals are passed through as
stored (about 1% of ShapeNetPart's are far from unit length). The sampled arrays of the text
format are cached on disk (:mod:`.cache`). ``split="trainval"`` joins train and val.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import register_dataset
from .arrays import ArrayDataset, Entry, SplitIndex, cached_arrays, sample_entries
from .base import DataError
from .readers import read_h5_clouds, read_lines, read_point_rows
from .resample import SAMPLINGS, check_sampling, select_points

CATEGORIES = [
    "Airplane", "Bag", "Cap", "Car", "Chair", "Earphone", "Guitar", "Knife", "Lamp", "Laptop",
    "Motorbike", "Mug", "Pistol", "Rocket", "Skateboard", "Table",
]
_PART_COUNTS = [4, 2, 2, 4, 4, 3, 3, 2, 4, 2, 6, 2, 3, 3, 3, 3]
_OFFSETS = np.concatenate([[0], np.cumsum(_PART_COUNTS)])
PARTS_OF_CLASS: dict[int, list[int]] = {
    i: list(range(int(_OFFSETS[i]), int(_OFFSETS[i + 1]))) for i in range(len(CATEGORIES))
}
NUM_PARTS = int(_OFFSETS[-1])  # 50
FORMATS = ("normal", "h5")
SPLITS = ("train", "val", "test", "trainval")
RELEASE_DIRS = {"normal": "shapenetcore_partanno_segmentation_benchmark_v0_normal",
                "h5": "hdf5_data"}
CATEGORY_FILES = {"normal": "synsetoffset2category.txt", "h5": "all_object_categories.txt"}


def part_category(parts: np.ndarray) -> np.ndarray:
    """Category of each global part id (any shape of int array; ids must lie in [0, 50))."""
    return np.searchsorted(_OFFSETS, parts, side="right") - 1


# -- locating a format ---------------------------------------------------------------------------
def _is_format(folder: Path, fmt: str) -> bool:
    if fmt == "normal":
        return ((folder / CATEGORY_FILES["normal"]).is_file()
                and (folder / "train_test_split").is_dir())
    if any(folder.glob("*_hdf5_file_list.txt")):
        return True
    # ply_data_*.h5 alone: unless it is a ModelNet h5 release (its class list is shape_names.txt)
    return any(folder.glob("ply_data_*.h5")) and not (folder / "shape_names.txt").is_file()


def locate(root: str | Path, fmt: str = "auto") -> tuple[str, Path]:
    """Find the format and folder of ShapeNetPart data under ``root`` (the release folder or a
    folder containing it); ``auto`` prefers ``normal`` (it has normals) over ``h5``.

    Raises
    ------
    DataError
        ``root`` is missing or holds no ShapeNetPart data in the format asked for.
    """
    root = Path(root)
    if fmt == "txt":
        fmt = "normal"
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"shapenetpart: format must be 'auto' or one of {FORMATS}, got {fmt!r}")
    if not root.is_dir():
        raise DataError(f"{root}: ShapeNetPart data folder not found (see data/README.md)")
    for f in FORMATS if fmt == "auto" else (fmt,):
        for folder in (root, root / RELEASE_DIRS[f]):
            if folder.is_dir() and _is_format(folder, f):
                return f, folder
    wanted = "any of " + ", ".join(FORMATS) if fmt == "auto" else f"format {fmt!r}"
    raise DataError(f"{root}: no ShapeNetPart data in {wanted} (looked in {root} and "
                    f"{sorted(RELEASE_DIRS.values())}; see data/README.md)")


def read_categories(path: Path, required: bool = True) -> dict[str, int]:
    """``synset -> category index`` from ``synsetoffset2category.txt`` / ``all_object_categories
    .txt`` (``Name<TAB>synset`` lines); names must be the 16 ShapeNetPart categories."""
    if not required and not path.is_file():
        return {}
    out = {}
    for i, line in enumerate(read_lines(path, "category list"), 1):
        fields = line.split()
        if len(fields) != 2:
            raise DataError(f"{path}:{i}: expected '<Category> <synset>', got {line!r}")
        if fields[0] not in CATEGORIES:
            raise DataError(f"{path}:{i}: unknown category {fields[0]!r} (ShapeNetPart has "
                            f"{', '.join(CATEGORIES)})")
        out[fields[1]] = CATEGORIES.index(fields[0])
    return out


# -- indexing ------------------------------------------------------------------------------------
def index_split(folder: str | Path, fmt: str, split: str, name: str = "shapenetpart") -> SplitIndex:
    """The shapes (``normal``) or files (``h5``) of one split; problems are collected.

    Raises
    ------
    DataError
        Only for problems that leave nothing to index (missing category or split list).
    """
    if split not in SPLITS:
        raise ValueError(f"{name} has the splits {SPLITS}, got {split!r}")
    folder = Path(folder)
    idx = SplitIndex(name, fmt, split, folder, list(CATEGORIES))
    for part in ("train", "val") if split == "trainval" else (split,):
        (_index_normal if fmt == "normal" else _index_h5)(idx, part)
    return idx


def _index_normal(idx: SplitIndex, split: str) -> None:
    folder = idx.root
    cat_file = folder / CATEGORY_FILES["normal"]
    synsets = read_categories(cat_file)
    list_file = folder / "train_test_split" / f"shuffled_{split}_file_list.json"
    if not list_file.is_file():
        raise DataError(f"{list_file}: split list not found")
    try:
        items = json.loads(list_file.read_text(encoding="utf-8-sig"))
    except (ValueError, OSError) as err:
        raise DataError(f"{list_file}: not a JSON list ({err})") from None
    if not isinstance(items, list):
        raise DataError(f"{list_file}: expected a JSON list of 'shape_data/<synset>/<token>'")
    idx.sources += [cat_file, list_file]
    seen = {e.shape_id for e in idx.entries}
    for i, item in enumerate(items):
        fields = item.split("/") if isinstance(item, str) else []
        where = f"{list_file} entry {i}"
        if len(fields) < 2:
            idx.problems.append(f"{where}: malformed entry {item!r}")
            continue
        synset, token = fields[-2], fields[-1]
        if synset not in synsets:
            idx.problems.append(f"{where}: unknown synset {synset!r} (not in {cat_file.name})")
            continue
        shape_id = f"{synset}/{token}"
        if shape_id in seen:
            idx.problems.append(f"{where}: duplicate shape {shape_id!r}")
            continue
        seen.add(shape_id)
        path = folder / synset / f"{token}.txt"
        if not path.is_file():
            idx.missing.append(f"{path}: missing (listed in {list_file.name} entry {i})")
            continue
        idx.entries.append(Entry(path, synsets[synset], shape_id))


def _index_h5(idx: SplitIndex, split: str) -> None:
    folder = idx.root
    read_categories(folder / CATEGORY_FILES["h5"], required=False)  # validates when present
    list_file = folder / f"{split}_hdf5_file_list.txt"
    idx.sources.append(list_file)
    for line_no, line in enumerate(read_lines(list_file, "h5 file list"), 1):
        path = folder / Path(line).name
        if not path.is_file():
            idx.missing.append(f"{path}: missing (listed in {list_file.name} line {line_no})")
        else:
            idx.entries.append(Entry(path, -1, path.stem))


# -- reading -------------------------------------------------------------------------------------
def check_parts(parts: np.ndarray, labels: np.ndarray, path: str | Path) -> None:
    """Raise :class:`DataError` unless every part id (B, P) lies in its shape's category
    ``labels`` (B,)."""
    if parts.min() < 0 or parts.max() >= NUM_PARTS:
        raise DataError(f"{path}: part id out of range [0, {NUM_PARTS}): "
                        f"{int(parts.min())}..{int(parts.max())}")
    wrong = part_category(parts) != labels[:, None]
    if wrong.any():
        b, p = np.argwhere(wrong)[0]
        raise DataError(f"{path}: part id {int(parts[b, p])} (point {p + 1}) is not a part of "
                        f"{CATEGORIES[int(labels[b])]} (parts {PARTS_OF_CLASS[int(labels[b])]})")


def read_txt_shape(entry: Entry) -> np.ndarray:
    """(R, 7) float32 rows ``x y z nx ny nz part`` of one shape, part ids checked."""
    rows = read_point_rows(entry.path, 7, None)
    parts = rows[:, 6]
    if not (parts == np.round(parts)).all():
        raise DataError(f"{entry.path}: part column holds non-integer values")
    check_parts(parts.astype(np.int64)[None], np.array([entry.label]), entry.path)
    return rows


def read_h5_file(path: Path) -> dict[str, np.ndarray]:
    """Validated arrays of one ``hdf5_data`` file: ``data`` (B, P, 3), ``label`` (B,),
    ``pid`` (B, P), part ids checked against the categories."""
    arrays = read_h5_clouds(path, len(CATEGORIES), per_point=("pid",))
    check_parts(arrays["pid"], arrays["label"], path)
    return arrays


def validate_entry(index: SplitIndex, entry: Entry, num_points: int | None = None) -> np.ndarray:
    """Read one entry fully (raising :class:`DataError` if it is bad); returns its labels (K,).

    ``num_points`` is accepted for symmetry with ModelNet and ignored: ShapeNetPart shapes with
    fewer points are padded by repeating points (see the module docstring)."""
    if index.fmt == "normal":
        read_txt_shape(entry)
        return np.array([entry.label])
    return read_h5_file(entry.path)["label"]


def _load_h5(index: SplitIndex, num_points: int, sampling: str, seed: int) -> dict:
    arrays = [read_h5_file(e.path) for e in index.entries]
    rows = np.concatenate([np.concatenate([a["data"], a["pid"][..., None].astype(np.float32)], -1)
                           for a in arrays])
    rows = select_points(list(rows), num_points, sampling, seed=seed, allow_fewer=True)
    return {"points": rows[..., :3], "parts": rows[..., 3].astype(np.int64),
            "labels": np.concatenate([a["label"] for a in arrays])}


# -- the data sets -------------------------------------------------------------------------------
def load_shapenet(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    num_points: int = 2048,
    use_normals: bool = False,
    format: str = "auto",  # noqa: A002 - the CLI's --format
    sampling: str = "random",
    cache_dir: str | Path | None | bool = None,
    seed: int = 0,
    normalize: bool = True,
    categories: list[str] | None = None,
    skip_missing: bool = False,
) -> ArrayDataset:
    """Build ShapeNetPart (``name="shapenetpart"``) or its classification view (``"shapenet"``).

    Parameters
    ----------
    name : {"shapenetpart", "shapenet"}
        ``shapenetpart`` samples carry ``parts`` (N,) global part ids; ``shapenet`` samples do
        not (16-category classification).
    split : {"train", "val", "test", "trainval"}
    root : path, optional
        Default ``data/shapenetpart`` (``shapenet``: ``data/shapenet`` if it exists, else
        ``data/shapenetpart``).
    num_points : int
    use_normals : bool
        Only the ``normal`` format has normals.
    format : {"auto", "normal", "h5"}
    sampling : {"random", "fps", "first"}
    cache_dir : path, None or False
        See :mod:`.cache`.
    seed : int
    normalize : bool
        Centre every cloud and scale it into the unit sphere.
    categories : list of str, optional
        Keep only these categories (labels stay the global 0..15 indices).
    skip_missing : bool
        Leave out listed shapes or files missing on disk, with a warning (as
        :func:`reldrop3d.data.modelnet.load_modelnet`); by default a :class:`DataError`.

    Returns
    -------
    ArrayDataset
        ``classes`` are the 16 categories; ``parts_of_class`` the standard category -> part-id
        table (``shapenetpart``).
    """
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    check_sampling(sampling, SAMPLINGS, f"{name}: ")
    if root is None:
        root = Path("data") / name
        if name == "shapenet" and not root.is_dir():
            root = Path("data") / "shapenetpart"
    fmt, folder = locate(root, format)
    if use_normals and fmt == "h5":
        raise DataError(f"{folder}: the ShapeNetPart h5 release has no normals "
                        "(use use_normals=False or the normal format)")
    keep = _category_filter(categories)
    index = index_split(folder, fmt, split, "shapenetpart")  # both views share one cache
    index.raise_problems(skip_missing)
    if fmt == "normal":
        index.entries = [e for e in index.entries if keep[e.label]]
    if not index.entries:
        raise DataError(f"{folder}: the {split} split of ShapeNetPart ({fmt}) has no shapes"
                        + (f" of {categories}" if categories else ""))

    def build() -> dict[str, np.ndarray]:
        if fmt == "h5":
            return _load_h5(index, num_points, sampling, seed)
        rows = sample_entries(index.entries, read_txt_shape, num_points, sampling, seed=seed,
                              allow_fewer=True)
        return {"points": rows[..., :3], "normals": rows[..., 3:6],
                "parts": rows[..., 6].astype(np.int64),
                "labels": np.array([e.label for e in index.entries]),
                "shape_ids": np.array([e.shape_id for e in index.entries])}

    cats = "all" if categories is None else "+".join(sorted(categories))
    arrays = cached_arrays(index, build, cache_dir, fmt == "normal" or sampling == "fps",
                           n=num_points, sampling=sampling, seed=seed, categories=cats)
    mask = keep[arrays["labels"]]
    if not mask.any():
        raise DataError(f"{folder}: the {split} split of ShapeNetPart ({fmt}) has no shapes of "
                        f"{categories}")
    with_parts = name == "shapenetpart"
    ds = ArrayDataset(
        name, split, CATEGORIES, arrays["points"][mask], arrays["labels"][mask],
        normals=arrays["normals"][mask] if use_normals else None,
        parts=arrays["parts"][mask] if with_parts else None,
        num_parts=NUM_PARTS if with_parts else 0,
        parts_of_class=PARTS_OF_CLASS if with_parts else None,
        shape_ids=[str(s) for s in arrays["shape_ids"][mask]] if "shape_ids" in arrays else None,
        normalize=normalize,
    )
    ds.format, ds.root = fmt, folder
    return ds


def _category_filter(categories: list[str] | None) -> np.ndarray:
    """(16,) bool: which categories to keep."""
    if categories is None:
        return np.ones(len(CATEGORIES), dtype=bool)
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown ShapeNetPart categories {unknown}; choose from {CATEGORIES}")
    return np.isin(CATEGORIES, categories)


@register_dataset("shapenetpart")
def shapenetpart(split: str = "train", root=None, num_points: int = 2048,
                 use_normals: bool = False, format: str = "auto",  # noqa: A002
                 sampling: str = "random", cache_dir=None, **kwargs) -> ArrayDataset:
    """ShapeNetPart part segmentation (default root ``data/shapenetpart``); see
    :func:`load_shapenet`."""
    return load_shapenet("shapenetpart", split, root, num_points, use_normals, format, sampling,
                         cache_dir, **kwargs)


@register_dataset("shapenet")
def shapenet(split: str = "train", root=None, num_points: int = 1024, use_normals: bool = False,
             format: str = "auto", sampling: str = "random", cache_dir=None,  # noqa: A002
             **kwargs) -> ArrayDataset:
    """16-category ShapeNet classification on the ShapeNetPart files (the official RelDrop 3D
    code's ShapeNet option; default root ``data/shapenet``, else ``data/shapenetpart``); see
    :func:`load_shapenet`."""
    return load_shapenet("shapenet", split, root, num_points, use_normals, format, sampling,
                         cache_dir, **kwargs)
