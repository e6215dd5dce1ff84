"""Neighbourhood ops on batched point clouds (B, N, 3): sampling, neighbour search, grouping.

Every search op takes ``backend="auto" | "torch" | "cluster"`` (see :mod:`reldrop3d.ops.backend`):
torch-cluster kernels when installed, else a chunked pure-torch fallback with bounded memory.
"""

from .backend import (
    get_memory_budget,
    has_torch_cluster,
    resolve_backend,
    set_memory_budget,
)
from .ball_query import ball_query
from .grouping import gather_points, group_points, interpolation_weights, knn_interpolate
from .knn import knn, squared_distance
from .sampling import farthest_point_sample

__all__ = [
    "ball_query",
    "farthest_point_sample",
    "gather_points",
    "get_memory_budget",
    "group_points",
    "has_torch_cluster",
    "knn",
    "interpolation_weights",
    "knn_interpolate",
    "resolve_backend",
    "set_memory_budget",
    "squared_distance",
]
