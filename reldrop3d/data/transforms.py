"""Point-cloud transforms: batched tensor ops on (B, N, C) or single clouds (N, C).

C is 3 (xyz) or 6 (xyz + normals). Geometric transforms move xyz and rotate (never translate or
scale-shift) the normals consistently. Random transforms take an optional ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

Tensor = torch.Tensor


def _batched(fn):
    """Let a (B, N, C) transform accept a single (N, C) cloud too."""

    def wrapper(x: Tensor, *args, **kwargs) -> Tensor:
        if x.dim() not in (2, 3) or x.shape[-1] not in (3, 6):
            raise ValueError(f"expected points (N, 3|6) or (B, N, 3|6), got {tuple(x.shape)}")
        if x.dim() == 2:
            return fn(x.unsqueeze(0), *args, **kwargs).squeeze(0)
        return fn(x, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


@_batched
def normalize_unit_sphere(x: Tensor) -> Tensor:
    """Centre each cloud at its centroid and scale its farthest point to radius 1 (B, N, C)."""
    xyz = x[..., :3] - x[..., :3].mean(1, keepdim=True)
    r = xyz.norm(dim=-1).amax(1).clamp(min=1e-12).view(-1, 1, 1)
    return torch.cat([xyz / r, x[..., 3:]], -1)


@_batched
def random_scale(x: Tensor, low: float = 0.8, high: float = 1.25, anisotropic: bool = False,
                 generator: torch.Generator | None = None) -> Tensor:
    """Scale xyz by a factor ~ U(low, high) per cloud (per axis with ``anisotropic``); normals of
    an anisotropic scaling are transformed by the inverse and renormalised."""
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {low}, {high}")
    b = x.shape[0]
    k = 3 if anisotropic else 1
    s = low + (high - low) * torch.rand(b, 1, k, generator=generator, device=x.device, dtype=x.dtype)
    xyz = x[..., :3] * s
    if x.shape[-1] == 3 or not anisotropic:
        return torch.cat([xyz, x[..., 3:]], -1)
    n = x[..., 3:] / s
    return torch.cat([xyz, n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)], -1)


@_batched
def random_shift(x: Tensor, max_shift: float = 0.1, generator: torch.Generator | None = None) -> Tensor:
    """Translate xyz by a vector ~ U(-max_shift, max_shift)^3 per cloud."""
    t = (torch.rand(x.shape[0], 1, 3, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1) * max_shift
    return torch.cat([x[..., :3] + t, x[..., 3:]], -1)


@_batched
def jitter(x: Tensor, sigma: float = 0.01, clip: float = 0.05, generator: torch.Generator | None = None) -> Tensor:
    """Add clipped Gaussian noise N(0, sigma) to every coordinate (normals unchanged)."""
    noise = torch.randn(x[..., :3].shape, generator=generator, device=x.device, dtype=x.dtype) * sigma
    return torch.cat([x[..., :3] + noise.clamp(-clip, clip), x[..., 3:]], -1)


def rotation_about_y(angle: Tensor) -> Tensor:
    """(B, 3, 3) rotations about the up axis (y) by ``angle`` (B,) radians."""
    c, s = torch.cos(angle), torch.sin(angle)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, z, s, z, o, z, -s, z, c], -1).view(-1, 3, 3)


@_batched
def random_rotate_y(x: Tensor, max_angle: float = 2 * math.pi, generator: torch.Generator | None = None) -> Tensor:
    """Rotate each cloud (and its normals) about the up axis by an angle ~ U(0, max_angle)."""
    a = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype) * max_angle
    r = rotation_about_y(a).transpose(1, 2)
    parts = [x[..., :3] @ r] + ([x[..., 3:] @ r] if x.shape[-1] == 6 else [])
    return torch.cat(parts, -1)


@_batched
def shuffle_points(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random permutation of the points of each cloud."""
    perm = torch.rand(x.shape[:2], generator=generator, device=x.device).argsort(1)
    return x.gather(1, perm.unsqueeze(-1).expand_as(x))


class Compose:
    """Apply transforms in order: ``Compose([f, g])(x) == g(f(x))``."""

    def __init__(self, transforms: Sequence[Callable[[Tensor], Tensor]]):
        self.transforms = list(transforms)

    def __call__(self, x: Tensor) -> Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({[getattr(t, '__name__', repr(t)) for t in self.transforms]})"


def default_train_augmentation(rotate: bool = False) -> Compose:
    """The usual ModelNet training augmentation on (B, N, C) batches: anisotropic scale
    0.8-1.25 (a PointNet++ / DGCNN convention), shift +-0.1, jitter (0.01, clip 0.05), and with
    ``rotate`` a random rotation about the up axis."""
    ts: list[Callable[[Tensor], Tensor]] = [
        lambda x: random_scale(x, 0.8, 1.25, anisotropic=True),
        random_shift,
        jitter,
    ]
    if rotate:
        ts.insert(0, random_rotate_y)
    return Compose(ts)
