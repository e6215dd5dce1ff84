"""``metrics.csv`` of a run: one row per logged step / epoch, kept across resumes.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts (so ``--resume``
lost the history) and rewrites it in place when a new column appears (a crash then could leave a
truncated file). :class:`MetricsCSV` instead appends every row as it is logged and rewrites the
file atomically (:func:`reldrop3d.utils.io.atomic_path`) only when the header grows;
:func:`truncate_metrics` drops the rows a killed run logged after its last checkpoint, so a resumed
run continues the history without duplicated rows.
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from ..utils.io import atomic_write_text

METRICS_FILE = "metrics.csv"


def read_metrics(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (as text) of a metrics file; ([], []) if there is none."""
    path = Path(path)
    if not path.is_file():
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [dict(r) for r in reader]
        return list(reader.fieldnames or []), rows


def _render(keys: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _epoch_of(row: dict[str, str]) -> float | None:
    try:
        return float(row.get("epoch") or "nan")
    except ValueError:
        return None


def truncate_metrics(path: str | os.PathLike, last_epoch: int) -> tuple[int, Path | None]:
    """Keep the rows of epochs ``<= last_epoch`` (the epoch a resumed checkpoint completed).

    Rows without a readable ``epoch`` are kept; the file is rewritten atomically (and not at all
    when nothing is dropped). Rows of a killed run's unfinished epoch are simply dropped; dropped
    rows that include a validated epoch (a resume from a checkpoint older than the run's last
    epoch, e.g. ``best.ckpt``) are kept aside in ``metrics.dropped-<UTC time>.csv``.

    Returns
    -------
    (number of rows dropped, the file they were kept in or None)
    """
    path = Path(path)
    keys, rows = read_metrics(path)
    kept, dropped = [], []
    for r in rows:
        epoch = _epoch_of(r)
        (dropped if epoch is not None and epoch > last_epoch else kept).append(r)
    if not dropped:
        return 0, None
    aside = None
    if any(v not in ("", None) for r in dropped for k, v in r.items() if str(k).startswith("val_")):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.stem}.dropped-{stamp}.csv")
        atomic_write_text(aside, _render(keys, dropped))
    atomic_write_text(path, _render(keys, kept))
    return len(dropped), aside


def _value(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return v


class MetricsCSV(Logger):
    """A Lightning logger that appends to ``metrics.csv`` (written by global rank 0 only).

    Parameters
    ----------
    out : path-like
        The run folder; the file is ``out/metrics.csv``. An existing file is continued (its rows
        and columns are kept).

    Notes
    -----
    Columns are the sorted union of all keys logged (as Lightning's ``CSVLogger``), with
    ``epoch`` and ``step``; values are written as Python prints them.
    """

    def __init__(self, out: str | os.PathLike):
        super().__init__()
        self.path = Path(out) / METRICS_FILE
        self._keys: list[str] | None = None  # loaded at the first write
        self._rows: list[dict] = []

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    @property
    def root_dir(self) -> str:
        return str(self.path.parent)

    @property
    def log_dir(self) -> str:
        return str(self.path.parent)

    @property
    def save_dir(self) -> str:
        return str(self.path.parent)

    @rank_zero_only
    def log_hyperparams(self, params, *args, **kwargs) -> None:  # config.json holds them
        return None

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self._keys is None:
            self._keys, self._rows = read_metrics(self.path)
        row = {k: _value(v) for k, v in metrics.items()}
        row["step"] = step if step is not None else len(self._rows)
        self._rows.append(row)
        new = set(row) - set(self._keys)
        if new or not self.path.is_file():
            self._keys = sorted(set(self._keys) | new)
            atomic_write_text(self.path, _render(self._keys, self._rows))
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self._keys).writerow(row)


def metric_rows(path: str | os.PathLike, drop: tuple[str, ...] = ()) -> list[dict[str, float]]:
    """The rows of a metrics file as floats, without the columns ``drop``; empty cells, cells
    that are not numbers and surplus cells of a garbled row are left out."""
    _, rows = read_metrics(path)
    out = []
    for r in rows:
        row = {}
        for k, v in r.items():
            if k is None or k in drop or not isinstance(v, str):
                continue
            try:
                row[k] = float(v)
            except ValueError:
                continue
        out.append(row)
    return out


__all__ = ["METRICS_FILE", "MetricsCSV", "metric_rows", "read_metrics", "truncate_metrics"]
