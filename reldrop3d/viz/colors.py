"""Colours for relevance maps, masks and part labels.

Relevance is signed (LRP): positive evidence is drawn hot (red), negative cold (blue), zero in the
map's neutral centre (white for ``bwr``). Normalisation is symmetric: ``R / s`` maps to [-1, 1]
(clipped) and then to the colour map's [0, 1], so zero always sits in the centre and the sign
stays readable. Pictures use ``s = robust_vmax(R, DEFAULT_PERCENTILE)``, the 95th percentile of
``|R|`` of the shape: LRP relevance of point networks is sparse and heavy-tailed (PointNet's max
pooling hands all relevance to the few hundred "critical" points, about half of a 512-point
cloud; a handful of them carry most of it), and with ``s = max|R|`` those few points take the
saturated colours while everything else looks white. Clipped at p95, the top 5% saturate and the
rest spread over the map (docs/viewers.md shows both and gives the measured quantiles). Every function
here returns RGB floats in [0, 1] and never NaN.
"""

from __future__ import annotations

import functools

import numpy as np

from .arrays import as_values

#: Default diverging colour map (matplotlib name).
DEFAULT_CMAP = "bwr"
#: Percentile of ``|R|`` (per shape) that maps to the ends of the colour map in pictures and the
#: viewer; 100 = ``max|R|``.
DEFAULT_PERCENTILE = 95.0
#: Colour of dropped points in the "dropped highlighted" view.
DROPPED_COLOR = (0.05, 0.85, 0.15)
#: Colour of kept points in the "dropped highlighted" view.
KEPT_COLOR = (0.42, 0.42, 0.46)
_LUT_SIZE = 1024


@functools.lru_cache(maxsize=32)
def colormap_lut(cmap: str = DEFAULT_CMAP, size: int = _LUT_SIZE) -> np.ndarray:
    """The colour map sampled at ``size`` evenly spaced values, as float64 (size, 3) RGB.

    Raises
    ------
    ValueError
        ``cmap`` is not a matplotlib colour map name.
    """
    import matplotlib

    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colour map {cmap!r} (any matplotlib colour map name)") from None
    lut = np.asarray(cm(np.linspace(0.0, 1.0, size)), dtype=np.float64)[:, :3]
    lut.setflags(write=False)
    return lut


def apply_colormap(values01: np.ndarray, cmap: str = DEFAULT_CMAP) -> np.ndarray:
    """Colours of values in [0, 1] (clipped) through ``cmap``: float64 (..., 3)."""
    lut = colormap_lut(cmap)
    idx = np.rint(np.clip(values01, 0.0, 1.0) * (len(lut) - 1)).astype(np.int64)
    return lut[idx]


def neutral_color(cmap: str = DEFAULT_CMAP) -> tuple[float, float, float]:
    """The colour of zero relevance (the map's centre)."""
    return tuple(float(c) for c in apply_colormap(np.array(0.5), cmap))


def hot_color(cmap: str = DEFAULT_CMAP) -> tuple[float, float, float]:
    """The colour of the most relevant point (the map's top end)."""
    return tuple(float(c) for c in apply_colormap(np.array(1.0), cmap))


def cold_color(cmap: str = DEFAULT_CMAP) -> tuple[float, float, float]:
    """The colour of the most negative relevance under symmetric normalisation."""
    return tuple(float(c) for c in apply_colormap(np.array(0.0), cmap))


def robust_vmax(relevance, percentile: float = DEFAULT_PERCENTILE) -> float:
    """``percentile`` of ``|R|``: a symmetric scale that a few extreme points cannot dominate
    (pass it as ``vmax``; larger values are clipped to the ends of the map). Falls back to
    ``max|R|`` when the percentile is 0."""
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    a = np.abs(as_values(relevance))
    if a.size == 0:
        return 0.0
    v = float(np.percentile(a, percentile))
    return v if v > 0 else float(a.max())


def relevance_scale(relevance, symmetric: bool = True,
                    vmax: float | None = None) -> tuple[float, float]:
    """The value range ``(vmin, vmax)`` that :func:`normalize_relevance` maps to [0, 1].

    Symmetric: ``(-max|R|, max|R|)`` (or ``(-vmax, vmax)``). Otherwise ``(min R, max R)``. For
    constant relevance the range is degenerate (``vmin == vmax``): the neutral centre.
    """
    r = as_values(relevance)
    if vmax is not None:
        return -float(vmax), float(vmax)
    if r.size == 0:
        return 0.0, 0.0
    if symmetric:
        m = float(np.abs(r).max())
        return -m, m
    return float(r.min()), float(r.max())


def normalize_relevance(
    relevance, symmetric: bool = True, vmax: float | None = None
) -> np.ndarray:
    """Relevance (N,) -> colour-map coordinates in [0, 1] (float64 (N,)).

    Parameters
    ----------
    relevance : Tensor or ndarray (N,)
        Finite values.
    symmetric : bool
        ``0.5 + 0.5 * R / max|R|`` (zero at the centre) when True, min-max otherwise.
    vmax : float, optional
        Fixed ``max|R|`` (symmetric only), e.g. to share one scale across several clouds;
        values beyond it are clipped.

    Returns
    -------
    ndarray (N,)
        Constant relevance (all zero, or all equal without a fixed ``vmax``) carries no
        information about which points matter and maps to the neutral 0.5.
    """
    r = as_values(relevance)
    if vmax is not None:
        if not symmetric:
            raise ValueError("vmax is only used with symmetric=True")
        if not np.isfinite(vmax) or vmax < 0:
            raise ValueError(f"vmax must be a finite value >= 0, got {vmax}")
        scale = float(vmax)
        if scale == 0.0:
            return np.full(r.shape, 0.5)
        return np.clip(0.5 + 0.5 * r / scale, 0.0, 1.0)
    if r.size == 0 or float(r.max()) == float(r.min()):
        return np.full(r.shape, 0.5)
    if symmetric:
        return 0.5 + 0.5 * r / float(np.abs(r).max())
    lo, hi = float(r.min()), float(r.max())
    return (r - lo) / (hi - lo)


def relevance_colors(
    relevance, cmap: str = DEFAULT_CMAP, symmetric: bool = True, vmax: float | None = None
) -> np.ndarray:
    """Per-point RGB colours of a relevance map.

    Parameters
    ----------
    relevance : Tensor or ndarray (N,)
        Signed relevance of one cloud (finite).
    cmap : str
        Matplotlib colour map; a diverging one (``bwr``, ``coolwarm``, ``seismic``) for signed
        relevance.
    symmetric : bool
        Normalise by ``max|R|`` so zero is the map's neutral centre (default); min-max otherwise.
    vmax : float, optional
        Fixed scale shared across clouds (see :func:`normalize_relevance`).

    Returns
    -------
    ndarray float64 (N, 3)
        RGB in [0, 1]. Zero or constant relevance gives the neutral colour; never NaN.

    Examples
    --------
    >>> relevance_colors([0.0, 1.0, -1.0])  # white, red, blue for "bwr"
    """
    return apply_colormap(normalize_relevance(relevance, symmetric, vmax), cmap)


def mask_colors(mask: np.ndarray, dropped=DROPPED_COLOR, kept=KEPT_COLOR) -> np.ndarray:
    """Colours highlighting dropped points: (N,) bool (True = dropped) -> float64 (N, 3)."""
    mask = np.asarray(mask, dtype=bool)
    out = np.empty((mask.shape[0], 3))
    out[:] = kept
    out[mask] = dropped
    return out


def label_colors(labels, palette: str = "tab20") -> np.ndarray:
    """Colours of integer labels (part ids): (N,) int -> float64 (N, 3), cycling ``palette``."""
    import matplotlib

    lab = np.asarray(as_values(labels, name="labels"), dtype=np.int64)
    cm = matplotlib.colormaps[palette]
    n = getattr(cm, "N", 20)
    table = np.asarray(cm(np.arange(n) % n), dtype=np.float64)[:, :3]
    return table[np.mod(lab, n)]


__all__ = [
    "DEFAULT_CMAP",
    "DEFAULT_PERCENTILE",
    "DROPPED_COLOR",
    "KEPT_COLOR",
    "apply_colormap",
    "cold_color",
    "colormap_lut",
    "hot_color",
    "label_colors",
    "mask_colors",
    "neutral_color",
    "normalize_relevance",
    "relevance_colors",
    "relevance_scale",
    "robust_vmax",
]
