"""Backend selection and input checks shared by the neighbourhood ops.

Two backends implement every op behind one API:

``"cluster"``
    `torch-cluster <https://github.com/rusty1s/pytorch_cluster>`_ (CPU and CUDA kernels); the
    batch is flattened and described by a batch vector / CSR pointer.
``"torch"``
    Pure PyTorch, vectorised over the batch and chunked over the queries so that no distance
    matrix larger than :func:`get_memory_budget` bytes is materialised.

``backend="auto"`` picks ``"cluster"`` when ``torch_cluster`` imports, ``"torch"`` otherwise.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

import torch

BACKENDS = ("auto", "torch", "cluster")

_DEFAULT_BUDGET = 256 * 2**20
_budget = int(os.environ.get("RELDROP3D_OPS_MEMORY_BUDGET", _DEFAULT_BUDGET))


@functools.lru_cache(maxsize=1)
def _import_cluster() -> ModuleType | None:
    try:
        return importlib.import_module("torch_cluster")
    except Exception:  # ImportError, or a binary built against another torch (OSError/RuntimeError)
        return None


def has_torch_cluster() -> bool:
    """Whether ``torch_cluster`` is importable (the ``"cluster"`` backend is available)."""
    return _import_cluster() is not None


def torch_cluster_module() -> ModuleType:
    """The imported ``torch_cluster`` module.

    Raises
    ------
    ImportError
        If torch-cluster is not installed (or does not load against this torch build).
    """
    mod = _import_cluster()
    if mod is None:
        raise ImportError(
            "backend='cluster' needs torch-cluster, which is not importable here; install it "
            "(pip install torch-cluster, built for this torch version) or use backend='torch'"
        )
    return mod


def resolve_backend(backend: str) -> str:
    """Map ``"auto"`` | ``"torch"`` | ``"cluster"`` to the concrete backend to run.

    Raises
    ------
    ValueError
        Unknown backend name.
    ImportError
        ``"cluster"`` requested without torch-cluster installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "cluster" if has_torch_cluster() else "torch"
    if backend == "cluster":
        torch_cluster_module()
    return backend


def get_memory_budget() -> int:
    """Bytes the pure-torch backend may spend on one pairwise-distance block (default 256 MiB).

    Set with :func:`set_memory_budget` or the ``RELDROP3D_OPS_MEMORY_BUDGET`` environment variable.
    """
    return _budget


def set_memory_budget(num_bytes: int) -> int:
    """Set the pure-torch block budget in bytes; returns the previous value."""
    global _budget
    if int(num_bytes) < 1:
        raise ValueError(f"memory budget must be a positive number of bytes, got {num_bytes}")
    previous, _budget = _budget, int(num_bytes)
    return previous


def query_chunk_size(batch: int, num_queries: int, num_points: int, bytes_per_pair: int = 16,
                     budget: int | None = None) -> int:
    """Queries per chunk so that a (B, chunk, N) block of ``bytes_per_pair`` fits the budget.

    At least one query per chunk, whatever the budget.
    """
    budget = get_memory_budget() if budget is None else budget
    per_query = max(1, batch * num_points * bytes_per_pair)
    return max(1, min(num_queries, budget // per_query))


def check_points(x: torch.Tensor, name: str, dim: int | None = 3) -> None:
    """Raise a clear error unless ``x`` is a finite floating (B, N, dim) tensor with N >= 1.

    ``dim=None`` accepts any channel count. The finiteness test is one pass over ``x`` (cheap next
    to the ops, which are O(N M)); NaN coordinates would otherwise yield silently wrong indices.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3 or (dim is not None and x.shape[-1] != dim):
        want = f"(B, N, {dim})" if dim is not None else "(B, N, C)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} is an empty point cloud (N = 0)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite coordinates")


def cluster_flat_batches(points: torch.Tensor, query: torch.Tensor):
    """Flatten (B, N, 3) points and (B, M, 3) queries for torch-cluster.

    Returns
    -------
    x : Tensor (B N, 3)
    y : Tensor (B M, 3)
    batch_x : LongTensor (B N,)
    batch_y : LongTensor (B M,)
    """
    b, n, c = points.shape
    m = query.shape[1]
    ar = torch.arange(b, device=points.device)
    return (
        points.reshape(b * n, c).contiguous(),
        query.reshape(b * m, c).contiguous(),
        ar.repeat_interleave(n),
        ar.repeat_interleave(m),
    )
