"""The seven point-cloud corruptions of ModelNet-C as batched, seeded data-level ops.

ModelNet-C (Ren, Pan & Liu 2022, "Benchmarking and Analyzing Point Cloud Classification under
Corruptions", arXiv 2202.03377) corrupts each 1,024-point test cloud in seven ways, each at five
severities. The parameters below are those of its generation code (``corrupt_utils.py``, called by
``build_modelnetc/corrupt.py`` of github.com/jiawei-ren/ModelNet-C; the same file ships as
``build/corrupt_utils.py`` in the authors' follow-up PointCloud-C). ``docs/robustness.md`` has
the table.

================== ====================================================== =========================
name               what happens to each cloud (severity 1 ... 5)          points out (N = 1,024)
================== ====================================================== =========================
``scale``          xyz scaled per axis by U(1/s, s), then back into the     N
                   unit sphere; s = 1.6, 1.7, 1.8, 1.9, 2.0
``jitter``         Gaussian noise N(0, sigma^2) on every coordinate,         N
                   sigma = 0.01 ... 0.05
``rotate``         R = Rz Ry Rx, each angle ~ U(-t, t), t = 6 ... 30 deg     N
``dropout_global`` a random 25, 37.5, 50, 62.5, 75 % of the points removed   int(N (1 - rate))
``dropout_local``  100 ... 500 points removed in 1-7 clusters: each cluster  N - 100 ... N - 500
                   takes the k points nearest a random remaining point
``add_global``     10 ... 50 points uniform in the unit ball added           N + 10 ... N + 50
``add_local``      100 ... 500 points added in 1-7 Gaussian clusters         N + 100 ... N + 500
                   (sigma ~ U(0.075, 0.125)) around random cloud points;
                   an added point p outside the unit ball becomes p / |p|^2
================== ====================================================== =========================

Cluster sizes (both local corruptions) follow the original: the number of clusters is uniform in
1..7 and every one of the ``total`` points picks its cluster uniformly, so the sizes are a
multinomial draw and sum to ``total`` exactly.

Every op takes a batch ``points`` (B, N, 3), a ``severity`` in 1..5, a ``torch.Generator`` and
optional ``normals`` (B, N, 3), and returns a :class:`Corrupted`: the new points (B, M, 3), the
normals that follow them, ``source`` (B, M) (the input point each output point came from, -1 for
an added point, so per-point labels follow with :func:`follow`) and ``info`` (what was drawn: the
rotation matrices, scale factors, cluster sizes, ...). Differences from the original, none of
which changes the distribution of the corrupted clouds: batched draws from a torch generator
instead of NumPy's global stream (so the clouds are not ModelNet-C's files; see
:func:`corruption_generator`), kept points stay in their input order (the original leaves them
shuffled; the models are permutation invariant), and normals, which ModelNet-C does not have,
are carried along: rotated with the points, inverse-transpose scaled and renormalised under
``scale``, kept under ``jitter``, and an added point takes the normal of its nearest original
point.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from ..utils.registry import Registry
from .transforms import normalize_unit_sphere

Tensor = torch.Tensor

#: severities of every corruption
SEVERITIES = (1, 2, 3, 4, 5)
#: bump when a corruption's output changes (invalidates the cached corrupted sets)
CORRUPTION_VERSION = 1
#: ignore label of added points in per-point labels (part segmentation)
IGNORE_LABEL = -1
#: the published parameters, one per severity 1..5
SCALE_MAX = (1.6, 1.7, 1.8, 1.9, 2.0)
JITTER_SIGMA = (0.01, 0.02, 0.03, 0.04, 0.05)
ROTATE_MAX_ANGLE = tuple(math.pi / 6 * (lvl + 1) / 5 for lvl in range(5))  # 6, 12, ... 30 deg
DROPOUT_GLOBAL_RATE = (0.25, 0.375, 0.5, 0.625, 0.75)
DROPOUT_LOCAL_POINTS = (100, 200, 300, 400, 500)
ADD_GLOBAL_POINTS = (10, 20, 30, 40, 50)
ADD_LOCAL_POINTS = (100, 200, 300, 400, 500)
MAX_CLUSTERS = 7  # np.random.randint(1, 8)
ADD_LOCAL_SIGMA = (0.075, 0.125)
#: points per clean cloud the counts above were published for
REFERENCE_POINTS = 1024


class Corrupted(NamedTuple):
    """Output of a corruption.

    Attributes
    ----------
    points : Tensor (B, M, 3)
    normals : Tensor (B, M, 3) or None
    source : LongTensor (B, M)
        Index of the input point each output point is (a transformed copy of); -1 for added points.
    info : dict of str to Tensor
        The random draws (per op; documented there).
    """

    points: Tensor
    normals: Tensor | None
    source: Tensor
    info: dict


CORRUPTIONS = Registry("corruption")


def register_corruption(name: str, parameter: str, values: tuple, supports_labels: bool = True):
    """Register a corruption op under ``name``.

    Parameters
    ----------
    name : str
    parameter : str
        What the per-severity ``values`` are (for reports and docs).
    values : tuple
        The parameter at severities 1..5.
    supports_labels : bool
        Whether per-point labels can follow the corrupted points (part segmentation).
    """

    def deco(fn: Callable) -> Callable:
        fn.corruption_name = name
        fn.parameter = parameter
        fn.values = tuple(values)
        fn.supports_labels = supports_labels
        return CORRUPTIONS.register(name)(fn)

    return deco


def list_corruptions() -> list[str]:
    """Registered corruption names, in the order of ModelNet-C's tables."""
    order = ["scale", "jitter", "rotate", "dropout_global", "dropout_local", "add_global", "add_local"]
    names = CORRUPTIONS.names()
    return [n for n in order if n in names] + [n for n in names if n not in order]


def get_corruption(name: str) -> Callable:
    """The registered op ``name``; ``ValueError`` naming the choices for an unknown name."""
    try:
        return CORRUPTIONS.get(name)
    except KeyError:
        raise ValueError(
            f"unknown corruption {name!r}; choose from {', '.join(list_corruptions())}"
        ) from None


def check_corruption_names(names) -> list[str]:
    """``names`` as a list, each checked (``ValueError`` naming unknown ones and the choices)."""
    names = list(names)
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(list_corruptions())}")
    if not names:
        raise ValueError("no corruption given")
    return names


def corruption_generator(seed: int, name: str, severity: int) -> torch.Generator:
    """The generator of one corrupted set: seeded from
    ``numpy.random.SeedSequence(seed, spawn_key=(crc32(name), severity))``, so every
    (corruption, severity) has its own stream, independent of which others are generated."""
    key = (zlib.crc32(name.encode()), int(severity))
    state = np.random.SeedSequence(int(seed), spawn_key=key).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def corrupt(name: str, points: Tensor, severity: int, generator: torch.Generator | None = None,
            normals: Tensor | None = None) -> Corrupted:
    """Apply the corruption ``name`` at ``severity`` (1..5) to a batch.

    Parameters
    ----------
    name : str
        A registered corruption (:func:`list_corruptions`).
    points : Tensor (B, N, 3)
    severity : int in 1..5
    generator : torch.Generator, optional
        Default: a fresh one seeded 0 (deterministic).
    normals : Tensor (B, N, 3), optional

    Returns
    -------
    Corrupted
    """
    fn = get_corruption(name)
    _check(name, points, severity, normals)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    return fn(points, severity, generator, normals)


def _check(name: str, points: Tensor, severity: int, normals: Tensor | None) -> None:
    if not isinstance(points, Tensor) or points.dim() != 3 or points.shape[-1] != 3:
        shape = tuple(points.shape) if isinstance(points, Tensor) else type(points).__name__
        raise ValueError(f"{name}: expected points (B, N, 3), got {shape}")
    if points.shape[1] < 1:
        raise ValueError(f"{name}: empty clouds (N = 0)")
    if not torch.isfinite(points).all():
        raise ValueError(f"{name}: points contain NaN or infinite coordinates")
    if normals is not None and normals.shape != points.shape:
        raise ValueError(f"{name}: normals {tuple(normals.shape)} do not match points "
                         f"{tuple(points.shape)}")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"{name}: severity must be one of {SEVERITIES}, got {severity!r}")


def follow(values: Tensor, source: Tensor, fill=IGNORE_LABEL) -> Tensor:
    """Per-point ``values`` (B, N, ...) moved to the corrupted points: (B, M, ...); added points
    (``source == -1``) get ``fill``."""
    idx = source.clamp(min=0)
    idx = idx.view(*idx.shape, *([1] * (values.dim() - 2))).expand(*idx.shape, *values.shape[2:])
    out = values.gather(1, idx)
    added = (source < 0).view(*source.shape, *([1] * (values.dim() - 2))).expand_as(out)
    return out.masked_fill(added, fill)


def _rand(shape, gen: torch.Generator, like: Tensor) -> Tensor:
    return torch.rand(shape, generator=gen, dtype=torch.float64).to(like.device, like.dtype)


def _randn(shape, gen: torch.Generator, like: Tensor) -> Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(like.device, like.dtype)


def _identity_source(points: Tensor) -> Tensor:
    b, n, _ = points.shape
    return torch.arange(n, device=points.device).expand(b, n)


def _keep(points: Tensor, normals: Tensor | None, keep: Tensor, info: dict) -> Corrupted:
    """Gather the kept points (B, M) (sorted index)."""
    idx = keep.unsqueeze(-1).expand(-1, -1, 3)
    nrm = normals.gather(1, idx) if normals is not None else None
    return Corrupted(points.gather(1, idx), nrm, keep, info)


def _append(points: Tensor, normals: Tensor | None, added: Tensor, info: dict) -> Corrupted:
    """Concatenate ``added`` (B, K, 3); their normals are those of the nearest original point."""
    b, n, _ = points.shape
    source = torch.cat([_identity_source(points),
                        torch.full(added.shape[:2], -1, dtype=torch.long, device=points.device)], 1)
    nrm = None
    if normals is not None:
        nearest = torch.cdist(added, points).argmin(-1)  # (B, K)
        nrm = torch.cat([normals, normals.gather(1, nearest.unsqueeze(-1).expand(-1, -1, 3))], 1)
    return Corrupted(torch.cat([points, added], 1), nrm, source, info)


def cluster_sizes(batch: int, total: int, gen: torch.Generator,
                  max_clusters: int = MAX_CLUSTERS) -> tuple[Tensor, Tensor]:
    """Random cluster sizes as ModelNet-C draws them.

    Parameters
    ----------
    batch : int
    total : int
        Points over all clusters of a cloud.
    gen : torch.Generator
    max_clusters : int

    Returns
    -------
    sizes : LongTensor (B, max_clusters)
        Row sums equal ``total``; clusters ``>= count`` are empty.
    assign : LongTensor (B, total)
        The cluster each of the ``total`` points picked (uniform in ``0..count-1``).
    count : LongTensor (B,)
        Clusters drawn per cloud, uniform in ``1..max_clusters`` (a drawn cluster may get no
        point, as in the original).
    """
    count = torch.randint(1, max_clusters + 1, (batch,), generator=gen)
    u = torch.rand(batch, total, generator=gen, dtype=torch.float64)
    assign = torch.minimum((u * count.unsqueeze(1)).long(), (count - 1).unsqueeze(1))
    sizes = torch.zeros(batch, max_clusters, dtype=torch.long).scatter_add_(
        1, assign, torch.ones_like(assign))
    return sizes, assign, count


@register_corruption("scale", "max axis factor s (factors ~ U(1/s, s))", SCALE_MAX)
def corrupt_scale(points: Tensor, severity: int, gen: torch.Generator,
                  normals: Tensor | None = None) -> Corrupted:
    """Anisotropic scaling, then back into the unit sphere (centroid at 0, farthest point at 1).

    Parameters
    ----------
    points : Tensor (B, N, 3)
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional
        Multiplied by the inverse factors and renormalised.

    Returns
    -------
    Corrupted with ``info["factors"]`` (B, 3).
    """
    s = SCALE_MAX[severity - 1]
    f = 1 / s + (s - 1 / s) * _rand((points.shape[0], 1, 3), gen, points)
    out = normalize_unit_sphere(points * f)
    nrm = None
    if normals is not None:
        nrm = normals / f
        nrm = nrm / nrm.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return Corrupted(out, nrm, _identity_source(points), {"factors": f.squeeze(1)})


@register_corruption("jitter", "noise standard deviation sigma", JITTER_SIGMA)
def corrupt_jitter(points: Tensor, severity: int, gen: torch.Generator,
                   normals: Tensor | None = None) -> Corrupted:
    """Gaussian noise N(0, sigma^2) on every coordinate (not clipped, as published).

    Parameters
    ----------
    points : Tensor (B, N, 3)
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional
        Unchanged.

    Returns
    -------
    Corrupted with ``info["sigma"]`` (a 0-d tensor).
    """
    sigma = JITTER_SIGMA[severity - 1]
    out = points + sigma * _randn(points.shape, gen, points)
    return Corrupted(out, normals, _identity_source(points), {"sigma": torch.tensor(sigma)})


def rotation_matrices(angles: Tensor) -> Tensor:
    """``Rz(c) @ Ry(b) @ Rx(a)`` for angles (B, 3) = (a, b, c) in radians: Tensor (B, 3, 3)."""
    a, b, c = angles.unbind(-1)
    one, zero = torch.ones_like(a), torch.zeros_like(a)

    def mat(*rows):
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    rx = mat((one, zero, zero), (zero, a.cos(), -a.sin()), (zero, a.sin(), a.cos()))
    ry = mat((b.cos(), zero, b.sin()), (zero, one, zero), (-b.sin(), zero, b.cos()))
    rz = mat((c.cos(), -c.sin(), zero), (c.sin(), c.cos(), zero), (zero, zero, one))
    return rz @ ry @ rx


@register_corruption("rotate", "max angle per axis (rad)", ROTATE_MAX_ANGLE)
def corrupt_rotate(points: Tensor, severity: int, gen: torch.Generator,
                   normals: Tensor | None = None) -> Corrupted:
    """Rotation by ``R = Rz Ry Rx`` with each angle ~ U(-t, t); row vectors: ``points @ R``.

    Parameters
    ----------
    points : Tensor (B, N, 3)
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional
        Rotated with the points.

    Returns
    -------
    Corrupted with ``info["rotation"]`` (B, 3, 3) and ``info["angles"]`` (B, 3).
    """
    t = ROTATE_MAX_ANGLE[severity - 1]
    angles = (2 * torch.rand(points.shape[0], 3, generator=gen, dtype=torch.float64) - 1) * t
    rot = rotation_matrices(angles)
    r = rot.to(points.device, points.dtype)
    nrm = normals @ r if normals is not None else None
    return Corrupted(points @ r, nrm, _identity_source(points), {"rotation": rot, "angles": angles})


@register_corruption("dropout_global", "share of points removed", DROPOUT_GLOBAL_RATE)
def corrupt_dropout_global(points: Tensor, severity: int, gen: torch.Generator,
                           normals: Tensor | None = None) -> Corrupted:
    """Keep a uniformly random ``int(N (1 - rate))`` of the points.

    Parameters
    ----------
    points : Tensor (B, N, 3)
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional

    Returns
    -------
    Corrupted (B, int(N (1 - rate)), 3), ``info["removed"]`` (the count).
    """
    b, n, _ = points.shape
    m = int(n * (1 - DROPOUT_GLOBAL_RATE[severity - 1]))
    if m < 1:
        raise ValueError(f"dropout_global: a cloud of {n} points keeps none at severity {severity}")
    order = torch.rand(b, n, generator=gen).argsort(1).to(points.device)
    keep = order[:, :m].sort(1).values
    return _keep(points, normals, keep, {"removed": torch.tensor(n - m)})


@register_corruption("dropout_local", "points removed (in 1-7 clusters)", DROPOUT_LOCAL_POINTS)
def corrupt_dropout_local(points: Tensor, severity: int, gen: torch.Generator,
                          normals: Tensor | None = None) -> Corrupted:
    """Remove ``total`` points in 1-7 clusters: cluster by cluster, pick a random remaining point
    and remove the cluster's size of remaining points nearest to it (itself included).

    Parameters
    ----------
    points : Tensor (B, N, 3), N > total
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional

    Returns
    -------
    Corrupted (B, N - total, 3), with ``info``: ``sizes`` (B, 7) cluster sizes, ``count`` (B,)
    clusters drawn, ``centres`` (B, 7) input index of each cluster's centre, ``cluster_of`` (B, N)
    the cluster that removed each input point (-1: kept).
    """
    b, n, _ = points.shape
    total = DROPOUT_LOCAL_POINTS[severity - 1]
    if n <= total:
        raise ValueError(f"dropout_local: severity {severity} removes {total} points; the clouds "
                         f"have only {n} (ModelNet-C's counts are for {REFERENCE_POINTS}-point clouds)")
    sizes, _, count = cluster_sizes(b, total, gen)
    dev = points.device
    sizes_d = sizes.to(dev)
    cluster_of = torch.full((b, n), -1, dtype=torch.long, device=dev)
    centres = torch.empty(b, MAX_CLUSTERS, dtype=torch.long, device=dev)
    rank = torch.arange(n, device=dev).unsqueeze(0)
    for c in range(MAX_CLUSTERS):
        removed = cluster_of >= 0
        score = torch.rand(b, n, generator=gen).to(dev).masked_fill(removed, -1.0)
        centre = score.argmax(1)
        centres[:, c] = centre
        d = ((points - points[torch.arange(b, device=dev), centre].unsqueeze(1)) ** 2).sum(-1)
        order = d.masked_fill(removed, math.inf).argsort(1)
        take = torch.zeros(b, n, dtype=torch.bool, device=dev).scatter_(
            1, order, rank < sizes_d[:, c:c + 1])
        cluster_of = cluster_of.masked_fill(take, c)
    keep = (cluster_of < 0).nonzero()[:, 1].view(b, n - total)
    info = {"sizes": sizes, "count": count, "centres": centres, "cluster_of": cluster_of}
    return _keep(points, normals, keep, info)


def sample_unit_ball(batch: int, k: int, gen: torch.Generator, like: Tensor) -> Tensor:
    """``k`` points uniform in the unit ball per cloud (radius U^(1/3), cos(theta) ~ U(-1, 1),
    phi ~ U(0, 2 pi), as ModelNet-C): Tensor (B, k, 3)."""
    u = _rand((batch, k, 3), gen, like)
    r = u[..., 0] ** (1 / 3)
    cos_t = 2 * u[..., 1] - 1
    sin_t = (1 - cos_t ** 2).clamp(min=0).sqrt()
    phi = 2 * math.pi * u[..., 2]
    return torch.stack([r * sin_t * phi.cos(), r * sin_t * phi.sin(), r * cos_t], -1)


@register_corruption("add_global", "points added in the unit ball", ADD_GLOBAL_POINTS)
def corrupt_add_global(points: Tensor, severity: int, gen: torch.Generator,
                       normals: Tensor | None = None) -> Corrupted:
    """Append 10-50 points uniform in the unit ball.

    Parameters
    ----------
    points : Tensor (B, N, 3)
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional

    Returns
    -------
    Corrupted (B, N + k, 3); the added points are the last k (``source == -1``);
    ``info["added"]`` (the count).
    """
    k = ADD_GLOBAL_POINTS[severity - 1]
    added = sample_unit_ball(points.shape[0], k, gen, points)
    return _append(points, normals, added, {"added": torch.tensor(k)})


@register_corruption("add_local", "points added (in 1-7 clusters)", ADD_LOCAL_POINTS)
def corrupt_add_local(points: Tensor, severity: int, gen: torch.Generator,
                      normals: Tensor | None = None) -> Corrupted:
    """Append ``total`` points in 1-7 Gaussian clusters around distinct random cloud points.

    Cluster ``c`` has standard deviation ``sigma_c ~ U(0.075, 0.125)``; an added point ``p`` with
    ``|p| > 1`` is replaced by ``p / |p|^2`` (inside the unit ball), as published.

    Parameters
    ----------
    points : Tensor (B, N, 3), N >= 7
    severity : int in 1..5
    gen : torch.Generator
    normals : Tensor (B, N, 3), optional

    Returns
    -------
    Corrupted (B, N + total, 3), with ``info``: ``sizes`` (B, 7), ``assign`` (B, total) cluster of
    each added point, ``count`` (B,) clusters drawn, ``centres`` (B, 7) input index of each cluster's centre, ``sigma`` (B, 7).
    """
    b, n, _ = points.shape
    if n < MAX_CLUSTERS:
        raise ValueError(f"add_local: needs clouds of at least {MAX_CLUSTERS} points, got {n}")
    total = ADD_LOCAL_POINTS[severity - 1]
    sizes, assign, count = cluster_sizes(b, total, gen)
    centres = torch.rand(b, n, generator=gen).argsort(1)[:, :MAX_CLUSTERS].to(points.device)
    lo, hi = ADD_LOCAL_SIGMA
    sigma = lo + (hi - lo) * _rand((b, MAX_CLUSTERS), gen, points)
    a = assign.to(points.device)
    centre_xyz = points.gather(1, centres.gather(1, a).unsqueeze(-1).expand(-1, -1, 3))
    added = centre_xyz + sigma.gather(1, a).unsqueeze(-1) * _randn((b, total, 3), gen, points)
    sq = (added ** 2).sum(-1, keepdim=True)
    added = torch.where(sq > 1, added / sq, added)
    info = {"sizes": sizes, "count": count, "assign": assign, "centres": centres, "sigma": sigma}
    return _append(points, normals, added, info)


__all__ = [
    "CORRUPTIONS",
    "CORRUPTION_VERSION",
    "IGNORE_LABEL",
    "SEVERITIES",
    "Corrupted",
    "check_corruption_names",
    "cluster_sizes",
    "corrupt",
    "corruption_generator",
    "follow",
    "get_corruption",
    "list_corruptions",
    "register_corruption",
    "rotation_matrices",
    "sample_unit_ball",
]
