"""Validate a data folder: find every data set and format in it, read every file, count shapes
per split and class, and collect every problem (``reldrop3d data check ROOT``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import modelnet, shapenet
from .arrays import SplitIndex
from .base import DataError

CHECKED = ("modelnet40", "modelnet10", "shapenetpart")


@dataclass
class SplitReport:
    """Counts of one split: ``counts`` maps class name -> shapes that read without error;
    ``listed`` / ``present``: entries of the split lists (shapes, or h5 files) and how many of
    them exist (None for OFF folders, which have no lists)."""

    split: str
    counts: dict[str, int] = field(default_factory=dict)
    bad: int = 0
    listed: int | None = None
    present: int | None = None
    unit: str = ""

    @property
    def shapes(self) -> int:
        return sum(self.counts.values())


@dataclass
class DatasetReport:
    """One data set in one format found under the checked folder."""

    dataset: str
    fmt: str
    folder: Path
    classes: list[str] = field(default_factory=list)
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """Everything :func:`check_root` found; ``ok`` is False when there is any problem."""

    root: Path
    datasets: list[DatasetReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def all_problems(self) -> list[str]:
        return self.problems + [p for d in self.datasets for p in d.problems]

    @property
    def ok(self) -> bool:
        return not self.all_problems

    def format(self) -> str:
        """Human-readable report: counts per split and class, then every problem."""
        lines = []
        for d in self.datasets:
            lines.append(f"{d.dataset} ({d.fmt}) in {d.folder}")
            for s in d.splits:
                present = [c for c in d.classes if s.counts.get(c)]
                bad = f", {s.bad} unreadable" if s.bad else ""
                listed = ("" if s.listed is None else
                          f" ({s.listed}{s.unit} listed, {s.present} present"
                          + (f", {s.listed - s.present} missing: see --skip-missing)"
                             if s.listed > s.present else ")"))
                lines.append(f"  {s.split}: {s.shapes} shapes in {len(present)} of "
                             f"{len(d.classes)} classes{bad}{listed}")
                lines += _wrap([f"{c} {s.counts[c]}" for c in present], "    ")
            empty = [c for c in d.classes if not any(s.counts.get(c) for s in d.splits)]
            if empty and d.splits:
                lines.append(f"  classes without shapes ({len(empty)}):")
                lines += _wrap(empty, "    ")
        probs = self.all_problems
        lines.append(f"{len(probs)} problem(s)" + (":" if probs else ""))
        lines += [f"  - {p}" for p in probs]
        return "\n".join(lines)


def _wrap(items: list[str], indent: str, width: int = 100) -> list[str]:
    out, cur = [], indent
    for item in items:
        if len(cur) + len(item) + 2 > width and cur.strip():
            out.append(cur.rstrip(", "))
            cur = indent
        cur += item + ", "
    if cur.strip():
        out.append(cur.rstrip(", "))
    return out


def _formats(name: str):
    return modelnet.FORMATS if name.startswith("modelnet") else shapenet.FORMATS


def _locate(name: str, root: Path, fmt: str) -> tuple[str, Path]:
    if name.startswith("modelnet"):
        return modelnet.locate(root, name, fmt)
    return shapenet.locate(root, fmt)


def _splits(name: str):
    return modelnet.SPLITS if name.startswith("modelnet") else ("train", "val", "test")


def _index(name: str, fmt: str, folder: Path, split: str) -> SplitIndex:
    if name.startswith("modelnet"):
        return modelnet.index_split(folder, name, fmt, split)
    return shapenet.index_split(folder, fmt, split)


def _validate(index: SplitIndex, entry, num_points: int | None = None):
    module = modelnet if index.dataset.startswith("modelnet") else shapenet
    return module.validate_entry(index, entry, num_points)


def _implied(name: str, fmt: str, folder: Path) -> bool:
    """In auto mode, ModelNet10 is only checked where it has its own files (not inside a
    ModelNet40 h5 or OFF release, whose check covers it)."""
    if name != "modelnet10":
        return False
    if fmt == "h5":
        return True
    if fmt == "off":
        dirs = {d.name for d in folder.iterdir()
                if d.is_dir() and not d.name.startswith((".", "__"))}
        return not dirs <= set(modelnet.MODELNET10_CLASSES)
    return False


def check_root(root: str | Path, dataset: str | None = None, fmt: str | None = None,
               progress: Callable[[str], None] | None = None,
               num_points: int | None = None) -> CheckReport:
    """Check every data set (or ``dataset``) in every format (or ``fmt``) under ``root``.

    Parameters
    ----------
    root : path
        A data folder (``data/modelnet40``, a release folder, ...).
    dataset : {"modelnet40", "modelnet10", "shapenetpart", "shapenet"}, optional
        Check only this data set (``shapenet`` is the same files as ``shapenetpart``).
    fmt : str, optional
        Check only this format.
    progress : callable, optional
        Called with a short message before each split is read.
    num_points : int, optional
        Also report ModelNet shapes with fewer points, which training with this many refuses.

    Returns
    -------
    CheckReport
        Shapes per split and class, and every problem found (list files, missing files,
        unknown classes, malformed rows, NaN/inf, absurd coordinates, meshes without area,
        non-integer labels, unreadable h5 files, overlapping splits, too few points).
    """
    root = Path(root)
    report = CheckReport(root)
    if not root.is_dir():
        report.problems.append(f"{root}: folder not found")
        return report
    if dataset == "shapenet":
        dataset = "shapenetpart"
    if dataset is not None and dataset not in CHECKED:
        raise ValueError(f"can check {CHECKED + ('shapenet',)}, got {dataset!r}")
    for name in (dataset,) if dataset else CHECKED:
        for f in (fmt,) if fmt else _formats(name):
            try:
                found, folder = _locate(name, root, f)
            except (DataError, ValueError) as err:
                if dataset and fmt:
                    report.problems.append(str(err))
                continue
            if not (dataset and fmt) and _implied(name, found, folder):
                continue
            report.datasets.append(_check_dataset(name, found, folder, progress, num_points))
    if not report.datasets and not report.problems:
        what = dataset or "ModelNet40/10 or ShapeNetPart"
        report.problems.append(f"{root}: no {what} data found"
                               + (f" in format {fmt!r}" if fmt else "") + " (see data/README.md)")
    return report


def _check_dataset(name: str, fmt: str, folder: Path, progress: Callable[[str], None] | None,
                   num_points: int | None = None) -> DatasetReport:
    rep = DatasetReport(name, fmt, folder)
    ids_by_split: dict[str, set[str]] = {}
    for split in _splits(name):
        try:
            index = _index(name, fmt, folder, split)
        except DataError as err:
            rep.problems.append(f"{split} split: {err}")
            continue
        rep.classes = index.classes
        rep.problems += index.missing + index.problems
        if progress:
            progress(f"{name} ({fmt}) {split}: reading {len(index.entries)} file(s)")
        counts: Counter = Counter()
        sr = SplitReport(split)
        if fmt != "off":
            sr.listed, sr.present = index.listed, len(index.entries)
            sr.unit = " files" if fmt == "h5" else ""
        for i, entry in enumerate(index.entries, 1):
            if progress and i % 1000 == 0:
                progress(f"  {i} / {len(index.entries)}")
            try:
                labels = _validate(index, entry, num_points)
            except DataError as err:
                rep.problems.append(str(err))
                sr.bad += 1
                continue
            counts.update(int(k) for k in labels if k >= 0)
        sr.counts = {index.classes[k]: counts[k] for k in sorted(counts)}
        rep.splits.append(sr)
        if fmt != "h5":
            ids_by_split[split] = {e.shape_id for e in index.entries}
    names = list(ids_by_split)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            both = ids_by_split[first] & ids_by_split[second]
            if both:
                rep.problems.append(f"{folder}: {len(both)} shape(s) in both the {first} and the "
                                    f"{second} split, e.g. {sorted(both)[0]!r}")
    return rep
