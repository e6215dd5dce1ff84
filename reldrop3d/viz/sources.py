"""Where the viewer's samples come from: a reldrop3d data set or point-cloud files.

Both sources have ``len`` and ``[i] -> Sample``; anything else with that interface works too
(e.g. a list of :class:`Sample` s in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import to_numpy


@dataclass
class Sample:
    """One cloud to look at.

    Attributes
    ----------
    points : ndarray float32 (N, C)
        Model input (xyz, or xyz + normals).
    label : int or None
        True class.
    parts : ndarray int (N,) or None
    relevance : ndarray (N,) or None
        Stored relevance (e.g. read from a PLY), used when no model is loaded.
    name : str
    """

    points: np.ndarray
    label: int | None = None
    parts: np.ndarray | None = None
    relevance: np.ndarray | None = None
    name: str = ""


class DatasetSource:
    """Samples of a reldrop3d data set (``points`` [+ ``normals``], ``label``, ``parts``)."""

    def __init__(self, dataset):
        if len(dataset) == 0:
            raise ValueError(f"data set {getattr(dataset, 'name', dataset)!r} is empty")
        self.dataset = dataset
        self.classes = list(getattr(dataset, "classes", []))
        self.part_names = list(getattr(dataset, "part_names", []))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Sample:
        s = self.dataset[i]
        pts = to_numpy(s["points"]).astype(np.float32)
        if "normals" in s:
            pts = np.concatenate([pts, to_numpy(s["normals"]).astype(np.float32)], axis=1)
        parts = to_numpy(s["parts"]).astype(np.int64) if "parts" in s else None
        label = int(to_numpy(s["label"])) if "label" in s else None
        return Sample(pts, label, parts, None, f"{getattr(self.dataset, 'name', 'data')}[{i}]")


class FileSource:
    """Point-cloud files (``.ply``, ``.pcd``, ``.off``, ``.txt``, ``.npy``, ...), read lazily.

    Scalar properties ``relevance`` and ``part``/``label`` of the file are used as stored
    relevance and part labels. With ``with_normals`` the model input is xyz + the file's normals.

    Parameters
    ----------
    paths : sequence of paths
    with_normals : bool
    mesh_samples : int
        Points sampled on OFF meshes.
    num_points : int, optional
        Clouds with more points are reduced to this many by farthest point sampling (what the
        model was trained on; per-point properties follow).
    normalize : bool
        Centre each cloud and scale it into the unit sphere, as the data sets do (files in
        other units, e.g. raw meshes, then look to the model like its training data).
    """

    def __init__(self, paths: Sequence, with_normals: bool = False, mesh_samples: int = 2048,
                 num_points: int | None = None, normalize: bool = True):
        from pathlib import Path

        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("no point-cloud files given")
        self.with_normals = with_normals
        self.mesh_samples = mesh_samples
        self.num_points, self.normalize = num_points, normalize
        self.classes: list[str] = []
        self.part_names: list[str] = []

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Sample:
        from .io import read_point_cloud

        path = self.paths[i]
        cloud = read_point_cloud(path, mesh_samples=self.mesh_samples)
        pts = cloud["points"]
        if self.with_normals:
            if "normals" not in cloud:
                raise ValueError(f"{path}: the model needs normals but the file has none")
            pts = np.concatenate([pts, cloud["normals"]], axis=1)
        sc = cloud["scalars"]
        parts = next((sc[k] for k in ("part", "parts", "label") if k in sc), None)
        rel = sc.get("relevance")
        if self.num_points is not None and len(pts) > self.num_points:
            import torch

            from ..ops import farthest_point_sample

            idx = farthest_point_sample(torch.from_numpy(pts[None, :, :3].copy()),
                                        self.num_points)[0].numpy()
            pts = pts[idx]
            parts = None if parts is None else np.asarray(parts)[idx]
            rel = None if rel is None else np.asarray(rel)[idx]
        if self.normalize:
            pts = pts.copy()
            xyz = pts[:, :3] - pts[:, :3].mean(0)
            pts[:, :3] = xyz / max(float(np.linalg.norm(xyz, axis=1).max()), 1e-12)
        return Sample(pts.astype(np.float32), None,
                      None if parts is None else np.asarray(parts).astype(np.int64),
                      rel, path.name)


__all__ = ["DatasetSource", "FileSource", "Sample"]
