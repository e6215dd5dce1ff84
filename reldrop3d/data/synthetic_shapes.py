"""Procedural shapes of the embedded ``synthetic`` data set: primitives, named parts, classes.

A shape is a list of :class:`Primitive` (box, cylinder, frustum, ellipsoid, half torus) in a
canonical frame (y up, standing on y = 0), each with a per-shape size, placement, rotation and an
optional per-shape presence flag (structural variation: chair arms, airplane engines, the number
of shelves ...). Every primitive belongs to a named part of its class. All parameters are tensors
with a leading batch dimension B: one call builds B shapes of one class at once.

Surface sampling (:func:`sample_class`): each output point picks a primitive with probability
proportional to the primitive's surface area times a random per-shape, per-part density factor
(log-normal), mixed with a small uniform share so that every present primitive keeps some points;
then a point on that primitive's surface with its outward unit normal. Only the points that chose
a primitive are computed for it, so the work is O(B N) per class. With ``view_bias`` > 0, 2N
candidates are drawn and N kept by weighted sampling without replacement, weights growing along a
random direction (one side of the object denser than the other, as in a scan).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Tensor = torch.Tensor


# --- canonical primitives ---------------------------------------------------------------------
# Each takes q (M, 4) uniforms in [0, 1), size (M, 3) and per-point extras (M,), and returns
# points (M, 3) and (not yet normalised) outward normals (M, 3) in the primitive's own frame.


def _box(q: Tensor, size: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Surface of the box with half-extents ``size``; a face is picked by its area."""
    areas = torch.stack(
        [size[:, 1] * size[:, 2], size[:, 0] * size[:, 2], size[:, 0] * size[:, 1]], -1
    )
    cum = areas.cumsum(-1) / areas.sum(-1, keepdim=True)
    axis = (q[:, 2:3] > cum[:, :2]).sum(-1)  # (M,) in {0, 1, 2}
    side = torch.where(q[:, 3] < 0.5, -1.0, 1.0)
    a, b = q[:, 0] * 2 - 1, q[:, 1] * 2 - 1
    p = torch.stack(
        [
            torch.where(axis == 0, side, a),
            torch.where(axis == 1, side, torch.where(axis == 0, a, b)),
            torch.where(axis == 2, side, b),
        ],
        -1,
    )
    n = torch.nn.functional.one_hot(axis, 3).to(p.dtype) * side.unsqueeze(-1)
    return p * size, n


def _cylinder(q: Tensor, size: Tensor, gen: torch.Generator, caps: Tensor) -> tuple[Tensor, Tensor]:
    """Elliptic cylinder along y: radii ``size[:, 0]`` (x), ``size[:, 2]`` (z), half-height
    ``size[:, 1]``. ``caps``: 2 closed at both ends, 1 only the bottom (a cup), 0 an open tube."""
    rx, hy, rz = size.unbind(-1)
    side_area = 2 * math.pi * (rx + rz) / 2 * 2 * hy
    cap_area = math.pi * rx * rz * caps
    on_side = q[:, 2] * (side_area + cap_area) < side_area
    theta = 2 * math.pi * q[:, 0]
    c, s = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(c)
    ps = torch.stack([c, q[:, 1] * 2 - 1, s], -1)
    ns = torch.stack([c / rx, zero, s / rz], -1)
    rad = torch.sqrt(q[:, 1])  # area-uniform on the disc
    top = (q[:, 3] < 0.5) & (caps > 1.5)
    y = torch.where(top, 1.0, -1.0)
    pc = torch.stack([rad * c, y, rad * s], -1)
    nc = torch.stack([zero, y, zero], -1)
    side = on_side.unsqueeze(-1)
    return torch.where(side, ps, pc) * size, torch.where(side, ns, nc)


def _frustum(
    q: Tensor, size: Tensor, gen: torch.Generator, top_ratio: Tensor
) -> tuple[Tensor, Tensor]:
    """Open truncated cone along y: bottom radius ``size[:, 0]``, top radius ``top_ratio`` times
    that, half-height ``size[:, 1]``."""
    k = top_ratio
    v = q[:, 1]
    # area-uniform height: the density grows with the radius 1 + (k - 1) t
    flat = (k - 1).abs() < 1e-4
    t = torch.where(flat, v, (torch.sqrt(1 + v * (k * k - 1)) - 1) / torch.where(flat, 1.0, k - 1))
    rad = 1 + (k - 1) * t.clamp(0, 1)
    theta = 2 * math.pi * q[:, 0]
    c, s = torch.cos(theta), torch.sin(theta)
    p = torch.stack([rad * c, t * 2 - 1, rad * s], -1) * size
    slope = (k - 1) * size[:, 0] / (2 * size[:, 1])  # dR/dy
    return p, torch.stack([c, -slope, s], -1)


def _ellipsoid(
    q: Tensor, size: Tensor, gen: torch.Generator, candidates: int = 8
) -> tuple[Tensor, Tensor]:
    """Ellipsoid with semi-axes ``size``, area-uniform by sampling-importance-resampling: of
    ``candidates`` directions on the unit sphere keep one with probability proportional to the
    area stretch ``|d / size|`` (Gumbel-max)."""
    m = q.shape[0]
    u = torch.rand(m, candidates, 3, generator=gen)
    z = u[..., 0] * 2 - 1
    r = torch.sqrt((1 - z * z).clamp(min=0))
    theta = 2 * math.pi * u[..., 1]
    d = torch.stack([r * torch.cos(theta), z, r * torch.sin(theta)], -1)  # (M, C, 3)
    s = size.unsqueeze(1)
    gumbel = -torch.log(-torch.log(u[..., 2].clamp(1e-12, 1 - 1e-7)))
    pick = ((d / s).norm(dim=-1).log() + gumbel).argmax(-1)
    d = d[torch.arange(m), pick]
    return d * size, d / size


def _torus_arc(
    q: Tensor, size: Tensor, gen: torch.Generator, minor: Tensor
) -> tuple[Tensor, Tensor]:
    """Half torus in the x-y plane bulging towards +x (a mug handle): major radius 1, tube radius
    ``minor`` (relative), scaled by ``size``."""
    phi = math.pi * (q[:, 0] - 0.5)
    psi = 2 * math.pi * q[:, 1]
    ring = torch.stack([torch.cos(phi), torch.sin(phi), torch.zeros_like(phi)], -1)
    tube = torch.cos(psi).unsqueeze(-1) * ring
    tube[:, 2] = torch.sin(psi)
    p = (ring + minor.unsqueeze(-1) * tube) * size
    return p, tube / size


PRIMITIVES: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "box": _box,
    "cylinder": _cylinder,
    "frustum": _frustum,
    "ellipsoid": _ellipsoid,
    "torus_arc": _torus_arc,
}


def primitive_area(kind: str, size: Tensor, **extra: Tensor) -> Tensor:
    """Surface area (B,) of primitives with ``size`` (B, 3) (ellipsoid and torus approximate)."""
    sx, sy, sz = size.unbind(-1)
    if kind == "box":
        return 8 * (sx * sy + sy * sz + sx * sz)
    if kind == "cylinder":
        return 2 * math.pi * (sx + sz) * sy + math.pi * sx * sz * extra["caps"]
    if kind == "frustum":
        return 2 * math.pi * sx * (1 + extra["top_ratio"]) * sy
    if kind == "ellipsoid":  # Knud Thomsen's approximation
        p = 1.6075
        return 4 * math.pi * (((sx * sy) ** p + (sx * sz) ** p + (sy * sz) ** p) / 3) ** (1 / p)
    if kind == "torus_arc":
        return math.pi * (sx + sy) / 2 * 2 * math.pi * extra["minor"] * (sx + sz) / 2
    raise KeyError(f"unknown primitive {kind!r}")


def rotation(
    b: int, yaw: Tensor | None = None, roll: Tensor | None = None, pitch: Tensor | None = None
) -> Tensor:
    """Rotation matrices (B, 3, 3) ``Ry(yaw) @ Rz(roll) @ Rx(pitch)``; None means no rotation.

    ``Rz(roll)`` tilts +y towards -x, ``Rx(pitch)`` tilts +y towards +z, ``Ry(yaw)`` turns +x
    towards -z.
    """
    r = torch.eye(3).expand(b, 3, 3)
    for angle, (i, j) in ((pitch, (1, 2)), (roll, (0, 1)), (yaw, (2, 0))):
        if angle is None:
            continue
        m = torch.eye(3).repeat(b, 1, 1)
        c, s = torch.cos(angle), torch.sin(angle)
        m[:, i, i], m[:, j, j], m[:, i, j], m[:, j, i] = c, c, -s, s
        r = m @ r
    return r


@dataclass
class Primitive:
    """One primitive of a batch of B shapes.

    Attributes
    ----------
    kind : str
        Key of :data:`PRIMITIVES`.
    part : str
        Name of the part the primitive belongs to.
    size, center : Tensor (B, 3)
        Size parameters (see the primitive) and position of the primitive's origin.
    rot : Tensor (B, 3, 3), optional
        Orientation (see :func:`rotation`).
    present : Tensor (B,) bool, optional
        Which shapes have this primitive at all (default: all).
    extra : dict of str to Tensor (B,)
        Primitive-specific parameters (``caps``, ``top_ratio``, ``minor``).
    """

    kind: str
    part: str
    size: Tensor
    center: Tensor
    rot: Tensor | None = None
    present: Tensor | None = None
    extra: dict[str, Tensor] = field(default_factory=dict)

    def area(self) -> Tensor:
        """Surface area (B,), zero where the primitive is absent."""
        a = primitive_area(self.kind, self.size, **self.extra)
        return a if self.present is None else a * self.present

    def sample(self, q: Tensor, shape: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Points and unit normals (M, 3) for uniforms ``q`` (M, 4) of shapes ``shape`` (M,)."""
        extra = {k: v[shape] for k, v in self.extra.items()}
        p, n = PRIMITIVES[self.kind](q, self.size[shape], gen, **extra)
        if self.rot is not None:
            rot = self.rot[shape]
            p = torch.einsum("mij,mj->mi", rot, p)
            n = torch.einsum("mij,mj->mi", rot, n)
        return p + self.center[shape], n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)


class Rand:
    """Per-shape parameter draws for a batch of ``b`` shapes from one generator."""

    def __init__(self, b: int, gen: torch.Generator):
        self.b, self.gen = b, gen

    def __call__(self, lo: float, hi: float) -> Tensor:
        """Uniform in [lo, hi), shape (B,)."""
        return lo + (hi - lo) * torch.rand(self.b, generator=self.gen)

    def coin(self, p: float) -> Tensor:
        """Bernoulli(p) flags (B,) bool."""
        return torch.rand(self.b, generator=self.gen) < p

    def vec(self, x: Tensor | float, y: Tensor | float, z: Tensor | float) -> Tensor:
        """Stack three per-shape values (tensors (B,) or floats) into (B, 3)."""
        return torch.stack(
            [torch.as_tensor(v, dtype=torch.float32).expand(self.b) for v in (x, y, z)], -1
        )

    def full(self, value: float) -> Tensor:
        return torch.full((self.b,), float(value))


def _cyl(r: Rand, part: str, size: Tensor, center: Tensor, caps: float = 2.0, **kw) -> Primitive:
    return Primitive("cylinder", part, size, center, extra={"caps": r.full(caps)}, **kw)


def _cone(part: str, size: Tensor, center: Tensor, top_ratio: Tensor) -> Primitive:
    return Primitive("frustum", part, size, center, extra={"top_ratio": top_ratio})


def _four_legs(
    r: Rand, xs: Tensor, zs: Tensor, top: Tensor, thick: Tensor, round_: Tensor
) -> list[Primitive]:
    """Four legs from the floor up to height ``top`` at (+-xs, +-zs), square or round."""
    legs = []
    for sx, sz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        center = r.vec(sx * xs, top / 2, sz * zs)
        size = r.vec(thick, top / 2, thick)
        legs.append(Primitive("box", "leg", size, center, present=~round_))
        legs.append(_cyl(r, "leg", size, center, present=round_))
    return legs


# --- classes -----------------------------------------------------------------------------------


def table(r: Rand) -> list[Primitive]:
    w, d, h, t = r(0.45, 1.1), r(0.35, 0.9), r(0.35, 1.0), r(0.02, 0.06)
    top = Primitive("box", "top", r.vec(w, t, d), r.vec(0, h - t, 0))
    inset = r(0.75, 0.95)
    return [top, *_four_legs(r, w * inset, d * inset, h - 2 * t, r(0.025, 0.06), r.coin(0.4))]


def chair(r: Rand) -> list[Primitive]:
    w, d, h, t = r(0.3, 0.5), r(0.3, 0.5), r(0.35, 0.6), r(0.03, 0.07)
    seat = Primitive("box", "seat", r.vec(w, t, d), r.vec(0, h, 0))
    bh, tilt = r(0.3, 0.7), r(0.0, 0.3)
    back_center = r.vec(0, h + bh * torch.cos(tilt), -d - bh * torch.sin(tilt))
    back = Primitive("box", "back", r.vec(w, bh, t), back_center, rot=rotation(r.b, pitch=-tilt))
    arms = r.coin(0.4)
    ah = r(0.15, 0.3)
    arm_list = [
        Primitive("box", "arm", r.vec(0.03, 0.03, d * 0.9), r.vec(s * w, h + ah, 0), present=arms)
        for s in (-1, 1)
    ]
    legs = _four_legs(r, w * 0.9, d * 0.9, h - t, r(0.02, 0.045), r.coin(0.3))
    return [seat, back, *arm_list, *legs]


def stool(r: Rand) -> list[Primitive]:
    rad, h, t = r(0.15, 0.4), r(0.4, 1.0), r(0.03, 0.08)
    seat = _cyl(r, "seat", r.vec(rad, t, rad), r.vec(0, h, 0))
    n_legs = torch.where(r.coin(0.5), 4.0, 3.0)
    splay, thick, phase = r(0.05, 0.3), r(0.02, 0.04), r(0, math.pi)
    leg_len = (h - t) / torch.cos(splay)
    legs = []
    for k in range(4):
        a = phase + 2 * math.pi * k / n_legs
        rho = rad * 0.75 + (h - t) / 2 * torch.tan(splay)
        center = r.vec(rho * torch.cos(a), (h - t) / 2, -rho * torch.sin(a))
        legs.append(
            _cyl(
                r,
                "leg",
                r.vec(thick, leg_len / 2, thick),
                center,
                rot=rotation(r.b, yaw=a, roll=splay),
                present=n_legs > k,
            )
        )
    return [seat, *legs]


def lamp(r: Rand) -> list[Primitive]:
    base_r, base_t, pole_h = r(0.12, 0.3), r(0.02, 0.05), r(0.5, 1.3)
    base = _cyl(r, "base", r.vec(base_r, base_t, base_r), r.vec(0, base_t, 0))
    pole_r = r(0.012, 0.03)
    pole = _cyl(r, "pole", r.vec(pole_r, pole_h / 2, pole_r), r.vec(0, pole_h / 2, 0), caps=0.0)
    shade_r, shade_h = r(0.15, 0.45), r(0.12, 0.35)
    shade_y = pole_h + shade_h * r(0.0, 0.4)
    shade = _cone("shade", r.vec(shade_r, shade_h / 2, shade_r), r.vec(0, shade_y, 0), r(0.3, 0.75))
    return [base, pole, shade]


def mug(r: Rand) -> list[Primitive]:
    rad, h = r(0.25, 0.5), r(0.25, 0.55)
    body = _cyl(r, "body", r.vec(rad, h, rad), r.vec(0, h, 0), caps=1.0)
    hs = h * r(0.45, 0.75)
    handle = Primitive(
        "torus_arc",
        "handle",
        r.vec(hs * r(0.6, 1.0), hs, hs),
        r.vec(rad * 0.97, h * r(0.9, 1.1), 0),
        extra={"minor": r(0.12, 0.22)},
    )
    return [body, handle]


def bottle(r: Rand) -> list[Primitive]:
    rad, h = r(0.15, 0.35), r(0.4, 1.0)
    body = _cyl(r, "body", r.vec(rad, h / 2, rad), r.vec(0, h / 2, 0), caps=1.0)
    sh, ratio = r(0.08, 0.3), r(0.25, 0.5)
    shoulder = _cone("shoulder", r.vec(rad, sh / 2, rad), r.vec(0, h + sh / 2, 0), ratio)
    nh, nr = r(0.08, 0.3), rad * ratio
    neck = _cyl(r, "neck", r.vec(nr, nh / 2, nr), r.vec(0, h + sh + nh / 2, 0), caps=0.0)
    ct = r(0.02, 0.05)
    cap = _cyl(r, "cap", r.vec(nr * 1.2, ct, nr * 1.2), r.vec(0, h + sh + nh + ct, 0))
    return [body, shoulder, neck, cap]


def airplane(r: Rand) -> list[Primitive]:
    length, rad = r(0.7, 1.2), r(0.07, 0.15)
    fuselage = Primitive("ellipsoid", "fuselage", r.vec(length, rad, rad), r.vec(0, 0, 0))
    span, chord, sweep, wx = r(0.6, 1.1), r(0.1, 0.25), r(0.0, 0.5), r(-0.2, 0.2)
    th = r(0.012, 0.03)
    wings = []
    for s in (-1, 1):
        # a half wing from the fuselage outwards, swept back by ``sweep``
        center = r.vec(wx - span / 2 * torch.sin(sweep), 0, s * span / 2 * torch.cos(sweep))
        wings.append(
            Primitive(
                "box", "wing", r.vec(chord, th, span / 2), center, rot=rotation(r.b, yaw=-s * sweep)
            )
        )
    fin_h = r(0.12, 0.3)
    fin = Primitive(
        "box", "tail", r.vec(chord * 0.6, fin_h / 2, 0.012), r.vec(-length * 0.85, fin_h / 2, 0)
    )
    stab = Primitive(
        "box",
        "tail",
        r.vec(chord * 0.5, 0.012, span * r(0.2, 0.35)),
        r.vec(-length * 0.85, 0.02, 0),
    )
    engines = r.coin(0.6)
    er = r(0.04, 0.07)
    eng = [
        _cyl(
            r,
            "engine",
            r.vec(er, chord * 0.8, er),
            r.vec(wx + chord * 0.3, -rad - er, s * span * 0.3),
            rot=rotation(r.b, roll=r.full(math.pi / 2)),
            present=engines,
            caps=0.0,
        )
        for s in (-1, 1)
    ]
    return [fuselage, *wings, fin, stab, *eng]


def bed(r: Rand) -> list[Primitive]:
    w, length, mh, lh = r(0.4, 0.75), r(0.7, 1.1), r(0.08, 0.2), r(0.05, 0.25)
    mattress = Primitive("box", "mattress", r.vec(w, mh, length), r.vec(0, lh + mh, 0))
    hb, bt = r(0.25, 0.6), r(0.02, 0.05)
    head = Primitive("box", "headboard", r.vec(w, hb, bt), r.vec(0, hb, -length - bt))
    pillows = [
        Primitive(
            "ellipsoid",
            "pillow",
            r.vec(w * 0.4, mh * 0.4, 0.12),
            r.vec(s * w * 0.5, lh + 2 * mh, -length + 0.2),
        )
        for s in (-1, 1)
    ]
    legs = _four_legs(r, w * 0.92, length * 0.92, lh, r(0.03, 0.05), r.coin(0.3))
    return [mattress, head, *pillows, *legs]


def guitar(r: Rand) -> list[Primitive]:
    lower, upper, t = r(0.25, 0.4), r(0.18, 0.3), r(0.04, 0.1)
    on_z = rotation(r.b, pitch=r.full(math.pi / 2))  # discs facing +z
    body_lo = _cyl(r, "body", r.vec(lower, t, lower), r.vec(0, lower, 0), rot=on_z)
    up_y = lower * 2 + upper * r(0.2, 0.5)
    body_up = _cyl(r, "body", r.vec(upper, t, upper), r.vec(0, up_y, 0), rot=on_z)
    nl, nw = r(0.4, 0.75), r(0.03, 0.05)
    neck_y = up_y + upper * 0.8 + nl / 2
    neck = Primitive("box", "neck", r.vec(nw, nl / 2, 0.025), r.vec(0, neck_y, t * 0.5))
    hl = r(0.06, 0.12)
    head = Primitive(
        "box", "head", r.vec(nw * 1.6, hl, 0.02), r.vec(0, neck_y + nl / 2 + hl, t * 0.5)
    )
    return [body_lo, body_up, neck, head]


def car(r: Rand) -> list[Primitive]:
    length, w, h, wheel_r = r(0.7, 1.2), r(0.3, 0.55), r(0.1, 0.22), r(0.1, 0.18)
    body = Primitive("box", "body", r.vec(length, h, w), r.vec(0, wheel_r + h, 0))
    cl, ch = length * r(0.35, 0.65), h * r(0.6, 1.2)
    cabin = Primitive(
        "box",
        "cabin",
        r.vec(cl, ch, w * r(0.75, 0.95)),
        r.vec(length * r(-0.3, 0.15), wheel_r + 2 * h + ch, 0),
    )
    wt = r(0.04, 0.08)
    on_z = rotation(r.b, pitch=r.full(math.pi / 2))
    wheels = [
        _cyl(
            r,
            "wheel",
            r.vec(wheel_r, wt, wheel_r),
            r.vec(sx * length * 0.65, wheel_r, sz * (w + wt)),
            rot=on_z,
        )
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]
    return [body, cabin, *wheels]


def bookshelf(r: Rand) -> list[Primitive]:
    w, h, d, t = r(0.3, 0.75), r(0.5, 1.1), r(0.12, 0.35), r(0.015, 0.04)
    sides = [Primitive("box", "side", r.vec(t, h, d), r.vec(s * (w + t), h, 0)) for s in (-1, 1)]
    n_shelves = torch.randint(3, 7, (r.b,), generator=r.gen)
    shelves = [
        Primitive(
            "box",
            "shelf",
            r.vec(w, t, d),
            r.vec(0, t + (2 * h - 2 * t) * k / (n_shelves - 1), 0),
            present=k < n_shelves,
        )
        for k in range(6)
    ]
    back = Primitive(
        "box", "back", r.vec(w + 2 * t, h, t / 2), r.vec(0, h, -d - t / 2), present=r.coin(0.6)
    )
    return [*sides, *shelves, back]


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
    """Part names of class ``name`` in the order of their part indices."""
    prims = CLASSES[name](Rand(1, torch.Generator().manual_seed(0)))
    return list(dict.fromkeys(p.part for p in prims))


def sample_class(
    name: str,
    b: int,
    n: int,
    gen: torch.Generator,
    density_jitter: float = 1.2,
    uniform_share: float = 0.1,
    view_bias: float = 2.5,
) -> tuple[Tensor, Tensor, Tensor]:
    """``b`` random shapes of class ``name`` in the canonical frame, ``n`` surface points each.

    Parameters
    ----------
    name : str
        Key of :data:`CLASSES`.
    b, n : int
        Shapes and points per shape.
    gen : torch.Generator
        Source of all randomness (the result is a function of its state).
    density_jitter : float
        Standard deviation of the log of the per-part density factor.
    uniform_share : float
        Share of the points spread evenly over the present primitives (keeps small parts visible).
    view_bias : float
        Largest strength g of the view-dependent density ``exp(g <p, d> / max |p|)`` (each shape
        draws g from U(0, view_bias) and a random direction d); 0 turns it off.

    Returns
    -------
    points : Tensor (b, n, 3) float32
    normals : Tensor (b, n, 3) float32, unit length, outward
    parts : Tensor (b, n) int64, part index within the class (see :func:`part_names_of`)
    """
    n_final, n = n, (2 * n if view_bias > 0 else n)
    prims = CLASSES[name](Rand(b, gen))
    names = list(dict.fromkeys(p.part for p in prims))
    part_of_prim = torch.tensor([names.index(p.part) for p in prims])
    density = torch.exp(density_jitter * torch.randn(b, len(names), generator=gen))[:, part_of_prim]
    area = torch.stack([p.area() for p in prims], -1)  # (b, K)
    weight = area * density
    present = (area > 0).float()
    weight = (1 - uniform_share) * weight / weight.sum(
        -1, keepdim=True
    ) + uniform_share * present / present.sum(-1, keepdim=True)
    cum = weight.cumsum(-1)
    choice = torch.searchsorted(
        cum, torch.rand(b, n, generator=gen) * cum[:, -1:], right=True
    ).clamp_(max=len(prims) - 1)
    q = torch.rand(b * n, 4, generator=gen)
    # group the points by primitive: one sort, contiguous slices, one scatter back
    order = choice.view(-1).argsort(stable=True)
    counts = torch.bincount(choice.view(-1), minlength=len(prims)).tolist()
    q, shape_of = q[order], order // n
    sorted_p = torch.empty(b * n, 3)
    sorted_n = torch.empty(b * n, 3)
    start = 0
    for prim, count in zip(prims, counts):
        if count:
            sl = slice(start, start + count)
            sorted_p[sl], sorted_n[sl] = prim.sample(q[sl], shape_of[sl], gen)
            start += count
    points = torch.empty(b * n, 3)
    normals = torch.empty(b * n, 3)
    points[order], normals[order] = sorted_p, sorted_n
    points, normals = points.view(b, n, 3), normals.view(b, n, 3)
    parts = part_of_prim[choice]
    if view_bias > 0:
        direction = torch.randn(b, 1, 3, generator=gen)
        direction = direction / direction.norm(dim=-1, keepdim=True)
        centred = points - points.mean(1, keepdim=True)
        proj = (centred * direction).sum(-1) / centred.norm(dim=-1).amax(1, keepdim=True)
        strength = view_bias * torch.rand(b, 1, generator=gen)
        gumbel = -torch.log(-torch.log(torch.rand(b, n, generator=gen).clamp(1e-12, 1 - 1e-7)))
        keep = (strength * proj + gumbel).topk(n_final, dim=1, sorted=False).indices
        points = points.gather(1, keep.unsqueeze(-1).expand(-1, -1, 3))
        normals = normals.gather(1, keep.unsqueeze(-1).expand(-1, -1, 3))
        parts = parts.gather(1, keep)
    return points, normals, parts
