"""Point-cloud transforms: batched tensor ops on (B, N, C) batches or single clouds (N, C).

C is 3 (xyz) or 6 (xyz + normals). Geometric transforms move xyz and transform the normals
consistently (rotations rotate them, anisotropic scaling applies the inverse-transpose and
renormalises, shifts and jitter leave them alone). Random transforms draw one set of parameters
per cloud from an optional ``torch.Generator`` (default: the global RNG), on the input's device.

:class:`Compose` (and so :func:`default_train_augmentation`) takes either a (B, N, C) / (N, C)
tensor or a collated batch dict (``points``, optional ``normals``, other per-point keys such as
``parts``): with a dict, xyz and normals are transformed together, and a point shuffle permutes
every per-point entry the same way, so part labels stay aligned.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch

Tensor = torch.Tensor


def _batched(fn):
    """Let a (B, N, C) transform accept a single (N, C) cloud too, and check the shape."""

    @functools.wraps(fn)
    def wrapper(x: Tensor, *args, **kwargs) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() not in (2, 3) or x.shape[-1] not in (3, 6):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{fn.__name__}: expected points (N, 3|6) or (B, N, 3|6), got {shape}")
        if x.dim() == 2:
            return fn(x.unsqueeze(0), *args, **kwargs).squeeze(0)
        return fn(x, *args, **kwargs)

    return wrapper


def _uniform(shape, low: float, high: float, x: Tensor, generator) -> Tensor:
    """U(low, high) samples of ``shape`` with the dtype/device of ``x``."""
    u = torch.rand(shape, generator=generator,
                   device=generator.device if generator is not None else x.device)
    return (low + (high - low) * u).to(device=x.device, dtype=x.dtype)


@_batched
def normalize_unit_sphere(x: Tensor) -> Tensor:
    """Centre each cloud at its centroid and scale its farthest point to radius 1.

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)

    Returns
    -------
    Tensor, the shape of ``x``
        Normals (channels 3:6) unchanged.

    Notes
    -----
    Each cloud is first divided by its largest absolute coordinate (the result is the same, as
    the normalisation is scale invariant), so that the mean and the norm cannot overflow: in
    float32 the squares of coordinates >= ~1.8e19 are inf, which would collapse the whole
    shape to the origin.
    """
    xyz = x[..., :3]
    scale = xyz.abs().amax(dim=(1, 2), keepdim=True)
    xyz = xyz / torch.where(scale > 0, scale, torch.ones_like(scale))
    xyz = xyz - xyz.mean(1, keepdim=True)
    r = xyz.norm(dim=-1).amax(1).clamp(min=1e-12).view(-1, 1, 1)
    return torch.cat([xyz / r, x[..., 3:]], -1)


@_batched
def random_scale(x: Tensor, low: float = 0.8, high: float = 1.25, anisotropic: bool = False,
                 generator: torch.Generator | None = None) -> Tensor:
    """Scale xyz by a factor ~ U(low, high) per cloud (per axis with ``anisotropic``).

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)
    low, high : float
        ``0 < low <= high``.
    anisotropic : bool
        One factor per axis; the normals are then multiplied by the inverse factors and
        renormalised (the inverse-transpose rule), so they stay perpendicular to the surface.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, the shape of ``x``
    """
    if not 0 < low <= high:
        raise ValueError(f"random_scale: need 0 < low <= high, got {low}, {high}")
    s = _uniform((x.shape[0], 1, 3 if anisotropic else 1), low, high, x, generator)
    xyz = x[..., :3] * s
    if x.shape[-1] == 3 or not anisotropic:
        return torch.cat([xyz, x[..., 3:]], -1)
    n = x[..., 3:] / s
    return torch.cat([xyz, n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)], -1)


@_batched
def random_shift(x: Tensor, max_shift: float = 0.1,
                 generator: torch.Generator | None = None) -> Tensor:
    """Translate xyz by a vector ~ U(-max_shift, max_shift)^3 per cloud.

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)
    max_shift : float
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, the shape of ``x``
    """
    t = _uniform((x.shape[0], 1, 3), -max_shift, max_shift, x, generator)
    return torch.cat([x[..., :3] + t, x[..., 3:]], -1)


@_batched
def jitter(x: Tensor, sigma: float = 0.01, clip: float = 0.05,
           generator: torch.Generator | None = None) -> Tensor:
    """Add Gaussian noise N(0, sigma^2), clipped to [-clip, clip], to every coordinate.

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)
    sigma, clip : float
        ``sigma >= 0``, ``clip > 0``.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, the shape of ``x``
        Normals unchanged.
    """
    if sigma < 0 or clip <= 0:
        raise ValueError(f"jitter: need sigma >= 0 and clip > 0, got {sigma}, {clip}")
    dev = generator.device if generator is not None else x.device
    noise = torch.randn(x[..., :3].shape, generator=generator, device=dev).to(x.device, x.dtype)
    return torch.cat([x[..., :3] + (noise * sigma).clamp(-clip, clip), x[..., 3:]], -1)


def rotation_about_y(angle: Tensor) -> Tensor:
    """Rotations about the up axis (y).

    Parameters
    ----------
    angle : Tensor (B,)
        Radians.

    Returns
    -------
    Tensor (B, 3, 3)
        ``R @ p`` rotates a column vector ``p`` by ``angle`` (x towards -z).
    """
    c, s = torch.cos(angle), torch.sin(angle)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, z, s, z, o, z, -s, z, c], -1).view(-1, 3, 3)


@_batched
def random_rotate_y(x: Tensor, max_angle: float = 2 * math.pi,
                    generator: torch.Generator | None = None) -> Tensor:
    """Rotate each cloud and its normals about the up axis (y) by an angle ~ U(0, max_angle).

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)
    max_angle : float
        Radians.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, the shape of ``x``
    """
    r = rotation_about_y(_uniform((x.shape[0],), 0.0, max_angle, x, generator)).transpose(1, 2)
    parts = [x[..., :3] @ r] + ([x[..., 3:] @ r] if x.shape[-1] == 6 else [])
    return torch.cat(parts, -1)


def point_permutation(batch: int, num_points: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> Tensor:
    """An independent random permutation of ``range(num_points)`` per cloud: LongTensor (B, N)."""
    dev = generator.device if generator is not None else device
    return torch.rand(batch, num_points, generator=generator, device=dev).argsort(1).to(device)


def gather_points(x: Tensor, perm: Tensor) -> Tensor:
    """Reorder dim 1 of ``x`` (B, N, ...) by ``perm`` (B, N)."""
    idx = perm.view(*perm.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


@_batched
def shuffle_points(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random permutation of the points of each cloud (point-wise models are invariant to it;
    use :class:`Compose` on a batch dict to keep per-point labels aligned).

    Parameters
    ----------
    x : Tensor (B, N, C) or (N, C)
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, the shape of ``x``
    """
    return gather_points(x, point_permutation(x.shape[0], x.shape[1], generator, x.device))


shuffle_points.permutes = True  # Compose permutes all per-point entries of a batch dict


class Compose:
    """Apply transforms in order: ``Compose([f, g])(x) == g(f(x))``.

    Parameters
    ----------
    transforms : sequence of callables
        Each maps (B, N, C) -> (B, N, C) (e.g. ``functools.partial(random_scale, low=0.9)``).

    Call with a tensor (B, N, C) / (N, C), or a batch dict with ``points`` (B, N, 3), optional
    ``normals`` (B, N, 3) and other entries: xyz and normals are transformed together;
    :func:`shuffle_points` permutes every entry whose first two dimensions are (B, N) (parts,
    masks); other entries (label, index) are passed through. The dict is not modified in place.
    """

    def __init__(self, transforms: Sequence[Callable[[Tensor], Tensor]]):
        self.transforms = list(transforms)

    def __call__(self, x):
        if isinstance(x, dict):
            return self._call_dict(x)
        for t in self.transforms:
            x = t(x)
        return x

    def _call_dict(self, batch: dict) -> dict:
        out = dict(batch)
        pts = out["points"]
        x = torch.cat([pts, out["normals"]], -1) if "normals" in out else pts
        single = x.dim() == 2
        if single:
            x = x.unsqueeze(0)
        for t in self.transforms:
            if getattr(_unwrap(t), "permutes", False):
                b, n = x.shape[:2]
                perm = point_permutation(b, n, _generator_of(t), x.device)
                x = gather_points(x, perm)
                for k, v in out.items():
                    if k in ("points", "normals") or not isinstance(v, Tensor):
                        continue
                    if single and v.dim() >= 1 and v.shape[0] == n:
                        out[k] = gather_points(v.unsqueeze(0), perm).squeeze(0)
                    elif not single and v.dim() >= 2 and v.shape[:2] == (b, n):
                        out[k] = gather_points(v, perm)
            else:
                x = t(x)
        if single:
            x = x.squeeze(0)
        out["points"] = x[..., :3]
        if "normals" in out:
            out["normals"] = x[..., 3:]
        return out

    def __repr__(self) -> str:
        names = []
        for t in self.transforms:
            if isinstance(t, functools.partial):
                kw = ", ".join(f"{k}={v}" for k, v in t.keywords.items())
                names.append(f"{t.func.__name__}({kw})")
            else:
                names.append(getattr(t, "__name__", repr(t)))
        return f"Compose([{', '.join(names)}])"


def _unwrap(t):
    return t.func if isinstance(t, functools.partial) else t


def _generator_of(t):
    return t.keywords.get("generator") if isinstance(t, functools.partial) else None


def default_train_augmentation(rotate: bool = False, anisotropic: bool = True,
                               shuffle: bool = False,
                               generator: torch.Generator | None = None) -> Compose:
    """The usual ModelNet / ShapeNet training augmentation, applied to whole batches.

    Order: (rotation about y) -> scale U(0.8, 1.25) (per axis when ``anisotropic``, the
    PointNet++ / DGCNN convention) -> shift U(-0.1, 0.1) -> jitter N(0, 0.01) clipped at 0.05 ->
    (point shuffle).

    Parameters
    ----------
    rotate : bool
        Add a random rotation about the up axis (for data sets that are not aligned).
    anisotropic : bool
    shuffle : bool
        Permute the points of each cloud (with a batch dict, per-point labels follow).
    generator : torch.Generator, optional
        RNG of every random draw (default: the global torch RNG).

    Returns
    -------
    Compose
        Callable on a (B, N, C) tensor (what the trainer passes: the model input, xyz or
        xyz + normals) or on a collated batch dict (see :class:`Compose`).
    """
    g = {"generator": generator}
    ts: list[Callable] = [
        functools.partial(random_scale, low=0.8, high=1.25, anisotropic=anisotropic, **g),
        functools.partial(random_shift, max_shift=0.1, **g),
        functools.partial(jitter, sigma=0.01, clip=0.05, **g),
    ]
    if rotate:
        ts.insert(0, functools.partial(random_rotate_y, **g))
    if shuffle:
        ts.append(functools.partial(shuffle_points, **g))
    return Compose(ts)


def official_reldrop_augmentation(generator: torch.Generator | None = None) -> Compose:
    """The geometric augmentation of the official RelDrop point-cloud training, on whole batches.

    Isotropic scale U(0.8, 1.25) per cloud, then a shift U(-0.1, 0.1) per axis and cloud, on xyz
    only (normals unchanged); no jitter, no rotation. (The official code applies it after the
    relevance mask, so dropped points are scaled and shifted too: ``augment_order="mask-first"``.)

    Parameters
    ----------
    generator : torch.Generator, optional
        RNG of every random draw (default: the global torch RNG).

    Returns
    -------
    Compose
    """
    g = {"generator": generator}
    return Compose([
        functools.partial(random_scale, low=0.8, high=1.25, anisotropic=False, **g),
        functools.partial(random_shift, max_shift=0.1, **g),
    ])
