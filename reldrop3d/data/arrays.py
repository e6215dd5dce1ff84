"""Shared machinery of the on-disk data sets: split indexes, chunked sampling, in-memory data set.

A format module (``modelnet``, ``shapenet``) turns a data folder into a :class:`SplitIndex` (the
shapes of one split, their classes, and every problem found while indexing), reads shapes into
arrays with :func:`sample_entries`, caches them (:mod:`.cache`) and wraps them in an
:class:`ArrayDataset`, which serves the sample dicts of :mod:`.base`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .base import DataError, PointCloudDataset
from .cache import cache_file, load_or_build, source_fingerprint
from .resample import select_points
from .transforms import normalize_unit_sphere

log = logging.getLogger(__name__)

MAX_LISTED_PROBLEMS = 10


@dataclass(frozen=True)
class Entry:
    """One shape of a split: its file, class index and id (for HDF5: one file, label -1)."""

    path: Path
    label: int
    shape_id: str


@dataclass
class SplitIndex:
    """The shapes of one split of one data folder, and what is wrong with it.

    Attributes
    ----------
    dataset, fmt, split : str
    root : Path
        The folder of this format (e.g. ``.../modelnet40_normal_resampled``).
    classes : list of str
    entries : list of Entry
    sources : list of Path
        Files besides the entries' that define the split (class list, split list); they enter
        the cache fingerprint.
    problems : list of str
        Every problem found while indexing, each naming its file (except missing files).
    missing : list of str
        One message per listed file that does not exist (not in ``entries``); a problem unless
        the data set is built with ``skip_missing=True``.
    label_map : ndarray (K,) int, optional
        For files whose labels index another class list (ModelNet10 from the ModelNet40 h5
        files): file label -> index into ``classes``, -1 for shapes left out.
    """

    dataset: str
    fmt: str
    split: str
    root: Path
    classes: list[str]
    entries: list[Entry] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    label_map: np.ndarray | None = None

    def map_labels(self, labels: np.ndarray) -> np.ndarray:
        """File labels -> indices into ``classes`` (-1: not in this data set)."""
        return labels if self.label_map is None else self.label_map[labels]

    @property
    def num_file_classes(self) -> int:
        """Number of classes the file labels index."""
        return len(self.classes) if self.label_map is None else len(self.label_map)

    @property
    def listed(self) -> int:
        """Files the split's lists name (present or not)."""
        return len(self.entries) + len(self.missing)

    def raise_problems(self, skip_missing: bool = False) -> None:
        """Raise one :class:`DataError` listing the problems (if any).

        Parameters
        ----------
        skip_missing : bool
            Missing files are not problems: they are logged (how many of how many listed) and
            the split holds the files present.
        """
        problems = self.problems if skip_missing else self.missing + self.problems
        if skip_missing and self.missing:
            log.warning("%s (%s) %s split under %s: skipped %d of %d listed file(s) that are "
                        "missing (skip_missing); using the %d present", self.dataset, self.fmt,
                        self.split, self.root, len(self.missing), self.listed, len(self.entries))
        if not problems:
            return
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more (run `reldrop3d data check {self.root}`)" if more else ""
        hint = (f" ({len(self.missing)} of {self.listed} listed file(s) missing: use "
                "--skip-missing (data_kwargs skip_missing=True) to use the shapes present)"
                if self.missing and not skip_missing else "")
        raise DataError(
            f"{self.dataset} ({self.fmt}) {self.split} split under {self.root}: "
            f"{len(problems)} problem(s){hint}:\n  " + "\n  ".join(shown) + tail
        )

    def fingerprint(self, extra: str = "") -> str:
        """Fingerprint of every source file of the split (see :func:`.cache.source_fingerprint`)."""
        files = {*self.sources, *(e.path for e in self.entries)}
        return source_fingerprint(files, self.root, extra)

    def class_counts(self) -> dict[str, int]:
        """Shapes per class name (entries with a known label)."""
        c = Counter(e.label for e in self.entries if e.label >= 0)
        return {self.classes[k]: c[k] for k in sorted(c)}


def sample_entries(
    entries: list[Entry],
    read: Callable[[Entry], np.ndarray],
    num_points: int,
    sampling: str,
    *,
    seed: int = 0,
    allow_fewer: bool = False,
    chunk: int = 64,
) -> np.ndarray:
    """Read every entry and reduce it to ``num_points`` rows, ``chunk`` shapes at a time.

    Parameters
    ----------
    entries : list of Entry
    read : callable
        ``read(entry) -> ndarray (R, C)``; raises :class:`DataError` for bad files.
    num_points, sampling, seed, allow_fewer
        See :func:`.resample.select_points` (FPS runs batched over each chunk).
    chunk : int
        Shapes read and sampled together (bounds memory: chunk x R x C floats).

    Returns
    -------
    ndarray (M, num_points, C) float32
    """
    if not entries:
        raise DataError("no shapes to read")
    parts = []
    for lo in range(0, len(entries), chunk):
        batch = entries[lo:lo + chunk]
        clouds = [read(e) for e in batch]
        parts.append(select_points(
            clouds, num_points, sampling, seed=seed, indices=range(lo, lo + len(batch)),
            paths=[e.path for e in batch], allow_fewer=allow_fewer,
        ))
        if len(entries) > chunk:
            log.info("sampled %d / %d shapes", lo + len(batch), len(entries))
    return np.concatenate(parts).astype(np.float32, copy=False)


def cached_arrays(index: SplitIndex, build: Callable[[], dict[str, np.ndarray]],
                  cache_dir: str | Path | None | bool = None, enabled: bool = True,
                  **key) -> dict[str, np.ndarray]:
    """``build()``'s arrays for ``index``, through the on-disk cache (see :mod:`.cache`).

    Parameters
    ----------
    index : SplitIndex
        Names the data set, format, folder and split, and lists the source files.
    build : callable
        Returns the arrays; called when there is no valid cache.
    cache_dir : path, None or False
        Cache folder (None: default; False: do not cache).
    enabled : bool
        False: always build (cheap formats).
    **key
        Parameters the arrays depend on (points, sampling, normals, seed, ...).
    """
    path = None
    if enabled and cache_dir is not False:
        path = cache_file(cache_dir, index.dataset, index.fmt, index.root, split=index.split,
                          **key)
    extra = "|".join(f"{k}={v}" for k, v in key.items())
    return load_or_build(path, index.fingerprint(f"{index.split}|{extra}"), build)


class ArrayDataset(PointCloudDataset):
    """A data set held in memory as stacked arrays (what the on-disk loaders produce).

    Parameters
    ----------
    name, split : str
    classes : list of str
    points : array (M, N, 3)
    labels : array (M,) int
    normals : array (M, N, 3), optional
        Given: samples carry ``normals`` (``use_normals`` is True).
    parts : array (M, N) int, optional
        Global part ids; given: samples carry ``parts``.
    num_parts : int
    parts_of_class : dict of int to list of int
    shape_ids : list of str, optional
        The id of every shape (file stem), kept as ``shape_ids``.
    normalize : bool
        Centre each cloud and scale it into the unit sphere.
    """

    def __init__(self, name: str, split: str, classes: list[str], points, labels, *,
                 normals=None, parts=None, num_parts: int = 0,
                 parts_of_class: dict[int, list[int]] | None = None,
                 shape_ids: list[str] | None = None, normalize: bool = True):
        self.name, self.split = name, split
        self.classes = list(classes)
        pts = torch.as_tensor(np.ascontiguousarray(points), dtype=torch.float32)
        if pts.dim() != 3 or pts.shape[-1] != 3 or pts.shape[0] == 0:
            raise ValueError(f"points must be (M > 0, N, 3), got {tuple(pts.shape)}")
        self.points = normalize_unit_sphere(pts).contiguous() if normalize else pts
        self._labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if self._labels.shape != (len(pts),):
            raise ValueError(f"labels must be ({len(pts)},), got {tuple(self._labels.shape)}")
        self.normals = None
        if normals is not None:
            self.normals = torch.as_tensor(np.ascontiguousarray(normals), dtype=torch.float32)
        self.parts = None if parts is None else torch.as_tensor(np.asarray(parts), dtype=torch.long)
        self.num_points = pts.shape[1]
        self.use_normals = self.normals is not None
        self.num_parts = num_parts
        self.parts_of_class = dict(parts_of_class or {})
        self.shape_ids = list(shape_ids) if shape_ids is not None else None

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        i = i % len(self)
        sample = {"points": self.points[i], "label": self._labels[i]}
        if self.normals is not None:
            sample["normals"] = self.normals[i]
        if self.parts is not None:
            sample["parts"] = self.parts[i]
        sample["index"] = torch.tensor(i)
        return sample

    def labels(self) -> torch.Tensor:
        return self._labels.clone()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, split={self.split!r}, shapes={len(self)}, "
                f"num_points={self.num_points}, classes={self.num_classes}, "
                f"normals={self.use_normals}, parts={self.num_parts})")
