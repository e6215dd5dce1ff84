"""Differences between two variants with a confidence interval, and the verdict they support.

Two designs, both *paired* (the same seed, or the same test shape, on both sides):

* :func:`paired_difference` -- several training seeds per variant: the per-seed differences
  ``d_s = a_s - b_s`` and Student's t interval ``mean(d) +- t_{n-1} * sd(d) / sqrt(n)``. It
  covers the seed-to-seed variation of training, which is what a claim "variant A beats B" must
  survive; with 3 seeds ``t_2 = 4.30``, so only large or very consistent effects are resolved.
* :func:`bootstrap_difference` -- one training seed: resample the test shapes (with
  replacement, the same shapes for both models) and take the percentile interval of the
  difference of the statistic. It covers only the finite test set, not the training seed.

:func:`verdict` turns an interval into "better", "worse" or "no detectable difference".
No SciPy: the t quantile is computed from the closed-form t distribution function for integer
degrees of freedom (Abramowitz & Stegun 26.7.3-4) and bisection.
"""

from __future__ import annotations

import math

import numpy as np

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"


def _t_two_sided(t: float, df: int) -> float:
    """``P(|T| < t)`` for Student's t with ``df`` (integer >= 1) degrees of freedom."""
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df == 1:
        return 2 * theta / math.pi
    if df % 2:  # odd: 2/pi * (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        term, total = c, c
        for k in range(3, df - 1, 2):
            term *= (k - 1) / k * c * c
            total += term
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for k in range(2, df - 1, 2):
        term *= (k - 1) / k * c * c
        total += term
    return s * total


def t_quantile(confidence: float, df: int) -> float:
    """The two-sided critical value ``t`` with ``P(|T| < t) = confidence``.

    Parameters
    ----------
    confidence : float in (0, 1)
        E.g. 0.95 gives the 0.975 quantile (12.706 for ``df = 1``, 4.303 for 2, 2.042 for 30).
    df : int >= 1

    Returns
    -------
    float
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if int(df) != df or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df}")
    df = int(df)
    lo, hi = 0.0, 1.0
    while _t_two_sided(hi, df) < confidence:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_two_sided(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * hi:
            break
    return (lo + hi) / 2


def paired_difference(a, b, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of the paired differences ``a - b`` with Student's t interval.

    Parameters
    ----------
    a, b : array-like (n,)
        One value per seed (or other pairing unit), in the same order on both sides.
    confidence : float
        Coverage of the interval (two-sided).

    Returns
    -------
    (mean, low, high) : floats; ``low = high = NaN`` for a single pair (no spread to estimate).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired values must be two non-empty 1-D arrays of the same length, "
                         f"got shapes {a.shape} and {b.shape}")
    d = a - b
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    half = t_quantile(confidence, d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, mean - half, mean + half


def _resample_counts(m: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, m) how often each of ``m`` items is drawn in each bootstrap replicate."""
    idx = rng.integers(0, m, size=(n_boot, m))
    counts = np.zeros((n_boot, m))
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1.0)
    return counts


def _weighted_statistic(counts: np.ndarray, values: np.ndarray,
                        groups: np.ndarray | None) -> np.ndarray:
    """The mean (or, with ``groups``, the mean of the group means over the groups drawn) of
    ``values`` (m,) under each row of ``counts`` (B, m); returns (B,)."""
    if groups is None:
        return counts @ values / counts.sum(1)
    onehot = (groups[:, None] == np.unique(groups)[None, :]).astype(float)  # (m, K)
    num, den = (counts * values) @ onehot, counts @ onehot  # (B, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(np.where(den > 0, num / den, np.nan), axis=1)


def bootstrap_difference(a, b, groups=None, confidence: float = 0.95, n_boot: int = 2000,
                         seed: int = 0) -> tuple[float, float, float]:
    """Difference of a per-shape statistic of two models on the same test shapes, with a paired
    percentile-bootstrap interval.

    Parameters
    ----------
    a, b : array-like (m,)
        Per-shape values of the two models (e.g. correct 1/0, a per-shape occlusion AUC or
        corruption error), shape ``i`` being the same test shape on both sides.
    groups : array-like (m,), optional
        Class label per shape: the statistic is then the mean over classes of the class means
        (mean class accuracy); otherwise the mean over shapes.
    confidence : float
    n_boot : int
        Bootstrap replicates (each draws ``m`` shapes with replacement, the same for a and b).
    seed : int
        Seed of the resampling (the interval is reproducible).

    Returns
    -------
    (difference, low, high) : the difference on all shapes and the percentile interval.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"per-shape values must be two non-empty 1-D arrays of the same length "
                         f"(the same test shapes), got shapes {a.shape} and {b.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != a.shape:
        raise ValueError(f"groups must have one entry per shape {a.shape}, got {g.shape}")
    ones = np.ones((1, a.size))
    point = float(_weighted_statistic(ones, a, g)[0] - _weighted_statistic(ones, b, g)[0])
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, n_boot, 250):  # chunks keep the (B, m) count matrix small
        counts = _resample_counts(a.size, min(250, n_boot - start), rng)
        diffs.append(_weighted_statistic(counts, a, g) - _weighted_statistic(counts, b, g))
    diffs = np.concatenate(diffs)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return point, float(low), float(high)


def sign_test_p(differences) -> float:
    """Two-sided exact sign test of paired differences (zeros dropped).

    The fallback where Student's t has nothing to work with: when every pair gives the same
    difference (accuracies on a small test set move in steps of one shape), the t interval has
    no width and would call any difference certain. The sign test only counts the pairs on each
    side of 0: with ``n`` pairs all on one side, ``p = 2 * 0.5 ** n`` (3 seeds: 0.25).

    Parameters
    ----------
    differences : array-like (n,)
        One difference per pair.

    Returns
    -------
    float : p-value in (0, 1]; 1.0 when every difference is 0.
    """
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    k = int(min((d > 0).sum(), (d < 0).sum()))
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def no_spread(differences, rtol: float = 1e-9) -> bool:
    """True when two or more paired differences are all equal (to ``rtol`` of their size), so a
    t interval over them has zero width."""
    d = np.asarray(differences, dtype=float)
    return d.size >= 2 and float(np.ptp(d)) <= rtol * max(1.0, float(np.abs(d).max()))


def verdict(low: float, high: float, higher_is_better: bool = True) -> str:
    """"better", "worse" or "no detectable difference" for an interval of ``variant - baseline``.

    "better" when the whole interval lies on the good side of 0 (above it when higher is
    better), "worse" when it lies wholly on the bad side; an interval touching or containing 0,
    or an undefined one (NaN), is "no detectable difference".
    """
    if math.isnan(low) or math.isnan(high):
        return NO_DIFFERENCE
    if low > 0:
        return BETTER if higher_is_better else WORSE
    if high < 0:
        return WORSE if higher_is_better else BETTER
    return NO_DIFFERENCE


__all__ = ["BETTER", "NO_DIFFERENCE", "WORSE", "bootstrap_difference", "no_spread",
           "paired_difference", "sign_test_p", "t_quantile", "verdict"]
