"""Pick a fixed number of points from clouds of any size: first N, farthest point sampling, random.

Farthest point sampling runs batched over shapes with :func:`reldrop3d.ops.farthest_point_sample`
(clouds of different sizes are padded with copies of their first point, which FPS never picks
before every real point, so the indices stay inside each cloud).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..ops import farthest_point_sample
from .base import DataError

SAMPLINGS = ("first", "fps", "fps_random", "random")
FPS_SAMPLINGS = ("fps", "fps_random")


def check_sampling(sampling: str, allowed: Sequence[str] = SAMPLINGS, where: str = "") -> None:
    """Raise ``ValueError`` unless ``sampling`` is one of ``allowed``."""
    if sampling not in allowed:
        raise ValueError(f"{where}sampling must be one of {tuple(allowed)}, got {sampling!r}")


def check_point_count(rows: int, num_points: int, name: str | Path, what: str = "points") -> None:
    """Raise :class:`DataError` naming ``name`` if a shape of ``rows`` points has fewer than
    ``num_points`` (the loaders that do not pad refuse such shapes)."""
    if rows < num_points:
        raise DataError(f"{name}: has {rows} {what}, fewer than num_points={num_points}")


def shape_rng(seed: int, index: int) -> np.random.Generator:
    """Independent, reproducible random stream of the shape at position ``index``."""
    return np.random.default_rng([int(seed), int(index)])


def select_points(
    clouds: Sequence[np.ndarray],
    num_points: int,
    sampling: str,
    *,
    seed: int = 0,
    indices: Sequence[int] | None = None,
    paths: Sequence[str | Path] | None = None,
    allow_fewer: bool = False,
    fps_device: str | torch.device | None = None,
) -> np.ndarray:
    """Reduce every cloud to ``num_points`` rows.

    Parameters
    ----------
    clouds : sequence of ndarray (R_i, C)
        Rows are points; the first three columns are xyz (FPS uses them), the rest (normals,
        part ids, ...) travel along.
    num_points : int
        N.
    sampling : {"first", "fps", "fps_random", "random"}
        ``first``: rows 0..N-1; ``fps``: farthest point sampling from row 0 (batched, torch);
        ``fps_random``: farthest point sampling from a random row, drawn per shape from its own
        seeded stream (the official RelDrop / PointNet++ loaders start FPS at a random point);
        ``random``: N distinct rows drawn uniformly.
    seed : int
        Seed of ``random`` and ``fps_random`` (and of the padding when ``allow_fewer``).
    indices : sequence of int, optional
        Positions of the clouds in their data set (default 0..B-1): each shape draws from
        its own stream :func:`shape_rng`, so results do not depend on chunking.
    paths : sequence of path, optional
        Named in errors.
    allow_fewer : bool
        A cloud with R < N rows keeps all its rows plus N - R drawn again with replacement;
        when False such a cloud raises :class:`DataError`.
    fps_device : str or torch.device, optional
        Where FPS runs (default: CUDA when available, else CPU). The clouds stay NumPy arrays.

    Returns
    -------
    ndarray (B, N, C), the dtype of the clouds
    """
    check_sampling(sampling)
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    if not len(clouds):
        raise ValueError("no clouds given")
    indices = list(range(len(clouds))) if indices is None else list(indices)
    out = np.empty((len(clouds), num_points, clouds[0].shape[1]), dtype=clouds[0].dtype)
    fps_rows = []
    for b, cloud in enumerate(clouds):
        r = len(cloud)
        if r < num_points:
            if not allow_fewer:
                check_point_count(r, num_points, paths[b] if paths is not None
                                  else f"cloud {indices[b]}")
            if r == 0:
                name = paths[b] if paths is not None else f"cloud {indices[b]}"
                raise DataError(f"{name}: has no points")
            extra = shape_rng(seed, indices[b]).integers(0, r, num_points - r)
            out[b] = cloud[np.concatenate([np.arange(r), extra])]
        elif sampling == "first":
            out[b] = cloud[:num_points]
        elif sampling == "random":
            out[b] = cloud[shape_rng(seed, indices[b]).choice(r, num_points, replace=False)]
        else:
            fps_rows.append(b)
    if fps_rows:
        xyz = pad_clouds([clouds[b][:, :3] for b in fps_rows])
        start = "first"
        if sampling == "fps_random":  # a real (not padded) row of each cloud
            start = torch.tensor([int(shape_rng(seed, indices[b]).integers(0, len(clouds[b])))
                                  for b in fps_rows], dtype=torch.long)
        dev = fps_device or ("cuda" if torch.cuda.is_available() else "cpu")
        # on CPU the pure-torch backend: 3-5x faster than torch-cluster's CPU FPS for
        # 10,000-point clouds (benchmarks/bench_datasets.py), with identical indices
        backend = "torch" if torch.device(dev).type == "cpu" else "auto"
        if isinstance(start, torch.Tensor):
            start = start.to(dev)
        idx = farthest_point_sample(torch.from_numpy(xyz).float().to(dev), num_points,
                                    backend=backend, start=start).cpu().numpy()
        for j, b in enumerate(fps_rows):
            out[b] = clouds[b][idx[j]]
    return out


def pad_clouds(clouds: Sequence[np.ndarray]) -> np.ndarray:
    """Stack clouds (R_i, C) into (B, max R_i, C), padding each with copies of its row 0."""
    rmax = max(len(c) for c in clouds)
    out = np.empty((len(clouds), rmax, clouds[0].shape[1]), dtype=clouds[0].dtype)
    for b, c in enumerate(clouds):
        out[b, : len(c)] = c
        out[b, len(c):] = c[0]
    return out

