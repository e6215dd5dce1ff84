"""Neighbourhood ops on batched point clouds (B, N, 3): sampling, neighbour search, grouping.

Every op takes ``backend="auto" | "torch" | "cluster"`` (see :mod:`reldrop3d.ops.backend`).
"""

from .backend import (
    get_memory_budget,
    has_torch_cluster,
    resolve_backend,
    set_memory_budget,
)
from .sampling import farthest_point_sample

__all__ = [
    "farthest_point_sample",
    "get_memory_budget",
    "has_torch_cluster",
    "resolve_backend",
    "set_memory_budget",
]
