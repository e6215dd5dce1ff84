"""Procedural shapes for the embedded ``synthetic`` data set: primitives, parts and classes.

Every shape is a set of *primitives* (box, cylinder, frustum, ellipsoid, torus section) in a
canonical frame, each scaled, rotated and placed per shape. Primitives belong to named parts.
Everything is vectorised over a batch of shapes of one class: parameters are tensors (B, ...).

Surface points are drawn by picking, for each output point, a primitive with probability
proportional to its (approximate) area times a random per-part density factor, then a point on
that primitive's surface, with its outward normal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


# --- canonical primitives: (u, v, w) uniform in [0,1)^3, per-point (B, N) -> points, normals ------


def _box(u: Tensor, v: Tensor, w: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """Surface of the box [-1, 1]^3 scaled by ``size`` (B, 3); faces chosen by scaled area."""
    sx, sy, sz = size[:, 0:1], size[:, 1:2], size[:, 2:3]
    areas = torch.stack([sy * sz, sx * sz, sx * sy], dim=-1)  # (B, 1, 3): faces normal to x, y, z
    cum = areas.cumsum(-1) / areas.sum(-1, keepdim=True)
    axis = (w.unsqueeze(-1) > cum[..., :2]).sum(-1)  # (B, N) in {0, 1, 2}
    side = torch.where(torch.frac(w * 7.31) < 0.5, -1.0, 1.0)
    a, b = u * 2 - 1, v * 2 - 1
    p = torch.stack(
        [
            torch.where(axis == 0, side, a),
            torch.where(axis == 1, side, torch.where(axis == 0, a, b)),
            torch.where(axis == 2, side, b),
        ],
        dim=-1,
    )
    n = torch.nn.functional.one_hot(axis, 3).to(p.dtype) * side.unsqueeze(-1)
    return p * size.unsqueeze(1), n


def _cylinder(u: Tensor, v: Tensor, w: Tensor, size: Tensor, caps: float = 1.0) -> tuple[Tensor, Tensor]:
    """Cylinder along y, radius ``size[:, 0]`` (x) / ``size[:, 2]`` (z), half-height ``size[:, 1]``.

    ``caps``: 1 closed at both ends, 0.5 only the bottom, 0 open tube.
    """
    rx, hy, rz = size[:, 0:1], size[:, 1:2], size[:, 2:3]
    r = (rx + rz) / 2
    side_area = 2 * math.pi * r * 2 * hy
    cap_area = math.pi * rx * rz * 2 * caps
    p_side = side_area / (side_area + cap_area)
    theta = 2 * math.pi * u
    on_side = w < p_side
    # side
    ps = torch.stack([torch.cos(theta), v * 2 - 1, torch.sin(theta)], -1)
    ns = torch.stack([torch.cos(theta) / rx, torch.zeros_like(u), torch.sin(theta) / rz], -1)
    # caps (top only when caps == 1), radius sqrt for uniform area
    rad = torch.sqrt(v)
    top = (torch.frac(w * 13.7) < 0.5) & (caps >= 1.0)
    yc = torch.where(top, 1.0, -1.0)
    pc = torch.stack([rad * torch.cos(theta), yc, rad * torch.sin(theta)], -1)
    nc = torch.stack([torch.zeros_like(u), yc, torch.zeros_like(u)], -1)
    p = torch.where(on_side.unsqueeze(-1), ps, pc) * size.unsqueeze(1)
    n = torch.where(on_side.unsqueeze(-1), ns, nc)
    return p, n


def _frustum(u: Tensor, v: Tensor, w: Tensor, size: Tensor, top_ratio: Tensor) -> tuple[Tensor, Tensor]:
    """Open truncated cone along y: bottom radius ``size[:, 0]``, top radius ``top_ratio`` times that,
    half-height ``size[:, 1]`` (``size[:, 2]`` scales z like x)."""
    k = top_ratio.unsqueeze(1)  # (B, 1)
    # area-uniform height: density proportional to the radius (1 + (k - 1) t)
    lin = torch.where((k - 1).abs() < 1e-4, v, (torch.sqrt(1 + v * (k * k - 1)) - 1) / (k - 1 + 1e-12))
    t = lin.clamp(0, 1)
    rad = 1 + (k - 1) * t
    theta = 2 * math.pi * u
    p = torch.stack([rad * torch.cos(theta), t * 2 - 1, rad * torch.sin(theta)], -1)
    # outward normal of the cone side: radial minus slope * y
    slope = (k - 1) * size[:, 0:1] / (2 * size[:, 1:2])
    n = torch.stack([torch.cos(theta), -slope.expand_as(u), torch.sin(theta)], -1)
    return p * size.unsqueeze(1), n


def _ellipsoid(u: Tensor, v: Tensor, w: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """Ellipsoid with semi-axes ``size`` (B, 3)."""
    z = v * 2 - 1
    r = torch.sqrt((1 - z * z).clamp(min=0))
    theta = 2 * math.pi * u
    d = torch.stack([r * torch.cos(theta), z, r * torch.sin(theta)], -1)
    s = size.unsqueeze(1)
    return d * s, d / s


def _torus_arc(u: Tensor, v: Tensor, w: Tensor, size: Tensor, minor: Tensor) -> tuple[Tensor, Tensor]:
    """Half torus in the x-y plane (a mug handle), major radius 1, minor radius ``minor`` (B,),
    opening towards -x; scaled by ``size``."""
    phi = math.pi * (u - 0.5)  # half circle of the major ring, x >= 0
    psi = 2 * math.pi * v
    m = minor.unsqueeze(1)
    ring = torch.stack([torch.cos(phi), torch.sin(phi), torch.zeros_like(phi)], -1)
    tube = torch.cos(psi).unsqueeze(-1) * ring + torch.sin(psi).unsqueeze(-1) * torch.tensor([0.0, 0.0, 1.0])
    p = (ring + m.unsqueeze(-1) * tube) * size.unsqueeze(1)
    return p, tube / size.unsqueeze(1)


PRIMITIVES: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "box": _box,
    "cylinder": _cylinder,
    "frustum": _frustum,
    "ellipsoid": _ellipsoid,
    "torus_arc": _torus_arc,
}


def primitive_area(kind: str, size: Tensor, **kw) -> Tensor:
    """Approximate surface area (B,) of a primitive with ``size`` (B, 3)."""
    sx, sy, sz = size.unbind(-1)
    if kind == "box":
        return 8 * (sx * sy + sy * sz + sx * sz)
    if kind == "cylinder":
        r = (sx + sz) / 2
        return 4 * math.pi * r * sy + 2 * math.pi * sx * sz * kw.get("caps", 1.0)
    if kind == "frustum":
        k = kw["top_ratio"]
        return 2 * math.pi * sx * (1 + k) / 2 * 2 * sy
    if kind == "ellipsoid":
        p = 1.6075
        return 4 * math.pi * (((sx * sy) ** p + (sx * sz) ** p + (sy * sz) ** p) / 3) ** (1 / p)
    if kind == "torus_arc":
        return 2 * math.pi**2 * kw["minor"] * (sx + sy) / 2 * (sx + sz) / 2
    raise KeyError(kind)


# --- shapes ---------------------------------------------------------------------------------------


@dataclass
class Primitive:
    """One primitive of a batch of shapes: kind, part name and per-shape placement."""

    kind: str
    part: str
    size: Tensor  # (B, 3)
    center: Tensor  # (B, 3)
    yaw: Tensor | None = None  # (B,) rotation about y of the primitive itself
    roll: Tensor | None = None  # (B,) rotation about z (tilts, e.g. a guitar neck or a chair back)
    kwargs: dict | None = None

    def area(self) -> Tensor:
        return primitive_area(self.kind, self.size, **(self.kwargs or {}))

    def sample(self, u: Tensor, v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        p, n = PRIMITIVES[self.kind](u, v, w, self.size, **(self.kwargs or {}))
        rot = rotation(self.yaw, self.roll, self.size.shape[0])
        p = p @ rot.transpose(1, 2) + self.center.unsqueeze(1)
        n = n @ rot.transpose(1, 2)
        return p, n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def rotation(yaw: Tensor | None, roll: Tensor | None, b: int) -> Tensor:
    """(B, 3, 3) rotation: roll about z, then yaw about y (identity for None)."""
    r = torch.eye(3).expand(b, 3, 3)
    if roll is not None:
        c, s = torch.cos(roll), torch.sin(roll)
        z, o = torch.zeros_like(c), torch.ones_like(c)
        rz = torch.stack([c, -s, z, s, c, z, z, z, o], -1).view(b, 3, 3)
        r = rz @ r
    if yaw is not None:
        c, s = torch.cos(yaw), torch.sin(yaw)
        z, o = torch.zeros_like(c), torch.ones_like(c)
        ry = torch.stack([c, z, s, z, o, z, -s, z, c], -1).view(b, 3, 3)
        r = ry @ r
    return r


class Rand:
    """Uniform draws of per-shape parameters from one generator."""

    def __init__(self, b: int, gen: torch.Generator):
        self.b, self.gen = b, gen

    def __call__(self, lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(self.b, generator=self.gen)

    def vec(self, *cols: Tensor) -> Tensor:
        return torch.stack(cols, -1)

    def const(self, value: float) -> Tensor:
        return torch.full((self.b,), float(value))


def _legs(r: Rand, part: str, xs: Tensor, zs: Tensor, top: Tensor, length: Tensor, thick: Tensor,
          kind: str = "box", splay: Tensor | None = None) -> list[Primitive]:
    """Four legs hanging from height ``top`` at (+-xs, +-zs)."""
    legs = []
    for sx, sz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        center = r.vec(sx * xs, top - length / 2, sz * zs)
        size = r.vec(thick, length / 2, thick)
        legs.append(Primitive(kind, part, size, center, kwargs={"caps": 1.0} if kind == "cylinder" else None))
    return legs


def table(r: Rand) -> list[Primitive]:
    w, d, h, t = r(0.6, 1.2), r(0.4, 0.9), r(0.5, 0.9), r(0.03, 0.07)
    top = Primitive("box", "top", r.vec(w, t, d), r.vec(r.const(0), h, r.const(0)))
    inset = r(0.75, 0.95)
    return [top, *_legs(r, "leg", w * inset, d * inset, h - t, h - t, r(0.03, 0.06))]


def chair(r: Rand) -> list[Primitive]:
    w, d, h, t = r(0.35, 0.55), r(0.35, 0.55), r(0.35, 0.55), r(0.03, 0.06)
    seat = Primitive("box", "seat", r.vec(w, t, d), r.vec(r.const(0), h, r.const(0)))
    bh = r(0.35, 0.7)
    back = Primitive("box", "back", r.vec(w, bh, t), r.vec(r.const(0), h + bh, -d + t),
                     roll=None, yaw=None)
    return [seat, back, *_legs(r, "leg", w * 0.9, d * 0.9, h - t, h - t, r(0.025, 0.045))]


def stool(r: Rand) -> list[Primitive]:
    rad, h, t = r(0.25, 0.45), r(0.5, 0.9), r(0.03, 0.08)
    seat = Primitive("cylinder", "seat", r.vec(rad, t, rad), r.vec(r.const(0), h, r.const(0)))
    legs = []
    for k in range(3):
        a = 2 * math.pi * k / 3
        leg_r = rad * 0.75
        legs.append(Primitive("cylinder", "leg", r.vec(r(0.02, 0.04), (h - t) / 2, r(0.02, 0.04)),
                              r.vec(leg_r * math.cos(a), (h - t) / 2, leg_r * math.sin(a))))
    return [seat, *legs]


def lamp(r: Rand) -> list[Primitive]:
    base_r, pole_h = r(0.15, 0.3), r(0.6, 1.2)
    base = Primitive("cylinder", "base", r.vec(base_r, r(0.02, 0.05), base_r), r.vec(r.const(0), r.const(0.03), r.const(0)))
    pole = Primitive("cylinder", "pole", r.vec(r(0.015, 0.03), pole_h / 2, r(0.015, 0.03)),
                     r.vec(r.const(0), pole_h / 2, r.const(0)))
    shade_r, shade_h = r(0.2, 0.4), r(0.15, 0.3)
    shade = Primitive("frustum", "shade", r.vec(shade_r, shade_h / 2, shade_r),
                      r.vec(r.const(0), pole_h, r.const(0)), kwargs={"top_ratio": r(0.35, 0.7)})
    return [base, pole, shade]


def mug(r: Rand) -> list[Primitive]:
    rad, h = r(0.3, 0.45), r(0.3, 0.55)
    body = Primitive("cylinder", "body", r.vec(rad, h, rad), r.vec(r.const(0), h, r.const(0)),
                     kwargs={"caps": 0.5})
    hs = h * r(0.5, 0.8)
    handle = Primitive("torus_arc", "handle", r.vec(hs * 0.8, hs, hs * 0.8),
                       r.vec(rad, h, r.const(0)), kwargs={"minor": r(0.12, 0.22)})
    return [body, handle]


def bottle(r: Rand) -> list[Primitive]:
    rad, h = r(0.15, 0.3), r(0.5, 0.9)
    body = Primitive("cylinder", "body", r.vec(rad, h / 2, rad), r.vec(r.const(0), h / 2, r.const(0)),
                     kwargs={"caps": 0.5})
    sh = r(0.1, 0.25)
    neck_r = r(0.25, 0.45)
    shoulder = Primitive("frustum", "neck", r.vec(rad, sh / 2, rad), r.vec(r.const(0), h + sh / 2, r.const(0)),
                         kwargs={"top_ratio": neck_r})
    nh = r(0.1, 0.25)
    neck = Primitive("cylinder", "neck", r.vec(rad * neck_r, nh / 2, rad * neck_r),
                     r.vec(r.const(0), h + sh + nh / 2, r.const(0)), kwargs={"caps": 0.0})
    cap = Primitive("cylinder", "cap", r.vec(rad * neck_r * 1.15, r(0.02, 0.05), rad * neck_r * 1.15),
                    r.vec(r.const(0), h + sh + nh, r.const(0)))
    return [body, shoulder, neck, cap]


def airplane(r: Rand) -> list[Primitive]:
    length, rad = r(0.8, 1.2), r(0.07, 0.14)
    body = Primitive("ellipsoid", "fuselage", r.vec(length, rad, rad), r.vec(r.const(0), r.const(0), r.const(0)))
    span, chord = r(0.7, 1.1), r(0.12, 0.25)
    wing = Primitive("box", "wing", r.vec(chord, r(0.01, 0.025), span), r.vec(r(-0.15, 0.15), r.const(0), r.const(0)))
    tail_h = r(0.12, 0.25)
    fin = Primitive("box", "tail", r.vec(chord * 0.6, tail_h, r.const(0.012)),
                    r.vec(-length * 0.85, tail_h, r.const(0)))
    stab = Primitive("box", "tail", r.vec(chord * 0.5, r.const(0.012), span * r(0.25, 0.4)),
                     r.vec(-length * 0.85, r.const(0.02), r.const(0)))
    return [body, wing, fin, stab]


def bed(r: Rand) -> list[Primitive]:
    w, length, h = r(0.45, 0.7), r(0.8, 1.1), r(0.15, 0.3)
    mattress = Primitive("box", "mattress", r.vec(w, h / 2, length), r.vec(r.const(0), r.const(0.1) + h / 2, r.const(0)))
    hb = r(0.25, 0.5)
    head = Primitive("box", "headboard", r.vec(w, hb, r(0.02, 0.05)), r.vec(r.const(0), hb, -length))
    legs = _legs(r, "leg", w * 0.9, length * 0.9, r.const(0.1), r.const(0.1), r(0.03, 0.05))
    return [mattress, head, *legs]


def guitar(r: Rand) -> list[Primitive]:
    lower, upper, t = r(0.3, 0.42), r(0.22, 0.32), r(0.05, 0.1)
    body_lo = Primitive("cylinder", "body", r.vec(lower, t, lower), r.vec(r.const(0), r.const(0), r.const(0)),
                        roll=r.const(math.pi / 2))
    body_up = Primitive("cylinder", "body", r.vec(upper, t, upper), r.vec(r.const(0), lower + upper * 0.6, r.const(0)),
                        roll=r.const(math.pi / 2))
    nl = r(0.45, 0.7)
    neck = Primitive("box", "neck", r.vec(r(0.03, 0.05), nl / 2, r(0.015, 0.03)),
                     r.vec(r.const(0), lower + upper * 1.4 + nl / 2, r.const(0)))
    head = Primitive("box", "head", r.vec(r(0.05, 0.08), r(0.07, 0.12), r(0.015, 0.03)),
                     r.vec(r.const(0), lower + upper * 1.4 + nl + 0.08, r.const(0)))
    return [body_lo, body_up, neck, head]


def car(r: Rand) -> list[Primitive]:
    length, w, h = r(0.8, 1.2), r(0.35, 0.55), r(0.12, 0.22)
    wheel_r = r(0.1, 0.16)
    body = Primitive("box", "body", r.vec(length, h, w), r.vec(r.const(0), wheel_r + h, r.const(0)))
    cl = length * r(0.4, 0.65)
    cabin = Primitive("box", "cabin", r.vec(cl, h * r(0.7, 1.1), w * 0.85),
                      r.vec(r(-0.15, 0.1), wheel_r + 2 * h + h * 0.8, r.const(0)))
    wheels = []
    for sx, sz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        wheels.append(Primitive("cylinder", "wheel", r.vec(wheel_r, r(0.04, 0.07), wheel_r),
                                r.vec(sx * length * 0.7, wheel_r, sz * w), roll=r.const(math.pi / 2),
                                yaw=r.const(math.pi / 2)))
    return [body, cabin, *wheels]


def bookshelf(r: Rand) -> list[Primitive]:
    w, h, d, t = r(0.4, 0.7), r(0.7, 1.1), r(0.15, 0.3), r(0.02, 0.04)
    sides = [Primitive("box", "side", r.vec(t, h, d), r.vec(s * w, h, r.const(0))) for s in (-1, 1)]
    shelves = [Primitive("box", "shelf", r.vec(w, t, d), r.vec(r.const(0), h * 2 * k / 4 + t, r.const(0)))
               for k in range(5)]
    return [*sides, *shelves]


CLASSES: dict[str, Callable[[Rand], list[Primitive]]] = {
    "table": table,
    "chair": chair,
    "stool": stool,
    "lamp": lamp,
    "mug": mug,
    "bottle": bottle,
    "airplane": airplane,
    "bed": bed,
    "guitar": guitar,
    "car": car,
    "bookshelf": bookshelf,
}


def part_names_of(name: str) -> list[str]:
    """Part names of a class in first-appearance order."""
    prims = CLASSES[name](Rand(1, torch.Generator().manual_seed(0)))
    return list(dict.fromkeys(p.part for p in prims))


def sample_class(
    name: str,
    b: int,
    n: int,
    gen: torch.Generator,
    density_jitter: float = 0.5,
) -> tuple[Tensor, Tensor, Tensor]:
    """``b`` random shapes of class ``name`` with ``n`` surface points each.

    Returns
    -------
    points : (b, n, 3), normals : (b, n, 3), part index within the class : (b, n) int64
    """
    prims = CLASSES[name](Rand(b, gen))
    names = list(dict.fromkeys(p.part for p in prims))
    part_of_prim = torch.tensor([names.index(p.part) for p in prims])
    # per-part random density factor (log-normal), times area -> choice weights per primitive
    density = torch.exp(density_jitter * torch.randn(b, len(names), generator=gen))
    area = torch.stack([p.area() for p in prims], -1)  # (b, K)
    weight = area * density[:, part_of_prim]
    choice = torch.multinomial(weight, n, replacement=True, generator=gen)  # (b, n)
    u, v, w = torch.rand(3, b, n, generator=gen)
    points = torch.zeros(b, n, 3)
    normals = torch.zeros(b, n, 3)
    for k, prim in enumerate(prims):
        sel = (choice == k).unsqueeze(-1)
        p, nr = prim.sample(u, v, w)
        points = torch.where(sel, p, points)
        normals = torch.where(sel, nr, normals)
    return points, normals, part_of_prim[choice]
