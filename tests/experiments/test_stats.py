"""Differences with intervals and verdicts (reldrop3d.experiments.stats), on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reldrop3d.experiments.stats import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    bootstrap_difference,
    no_spread,
    paired_difference,
    sign_test_p,
    t_quantile,
    verdict,
)


@pytest.mark.parametrize("confidence, df, expected", [
    (0.95, 1, 12.7062), (0.95, 2, 4.3027), (0.95, 3, 3.1824), (0.95, 4, 2.7764),
    (0.95, 10, 2.2281), (0.95, 30, 2.0423), (0.99, 5, 4.0321), (0.90, 3, 2.3534),
    (0.95, 200, 1.9719),
])
def test_t_quantile_matches_the_tables(confidence, df, expected):
    assert t_quantile(confidence, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_bad_input():
    with pytest.raises(ValueError, match="confidence"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.95, 0)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.95, 2.5)


def test_paired_difference_known_interval():
    # differences 0.10, 0.11, 0.09: mean 0.10, sd 0.01, half-width t_2 * 0.01 / sqrt(3)
    mean, low, high = paired_difference([0.80, 0.82, 0.84], [0.70, 0.71, 0.75])
    half = 4.302653 * 0.01 / math.sqrt(3)
    assert mean == pytest.approx(0.10)
    assert (low, high) == pytest.approx((0.10 - half, 0.10 + half), abs=1e-6)
    assert verdict(low, high) == BETTER
    # pairing matters: the same values with a seed-level offset shared by both sides
    a, b = np.array([0.5, 0.7, 0.9]), np.array([0.49, 0.69, 0.89])
    _, low, _ = paired_difference(a, b)
    assert low > 0  # unpaired, the 0.2 spread between seeds would swamp the 0.01 effect


def test_paired_difference_single_pair_and_bad_shapes():
    mean, low, high = paired_difference([0.8], [0.7])
    assert mean == pytest.approx(0.1) and math.isnan(low) and math.isnan(high)
    assert verdict(low, high) == NO_DIFFERENCE
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1, 2, 3], [1, 2])


def test_sign_test_p_exact_values():
    assert sign_test_p([0.1, 0.1, 0.1]) == pytest.approx(0.25)  # 2 * 0.5 ** 3
    assert sign_test_p([-1.0] * 6) == pytest.approx(2 / 64)
    assert sign_test_p([1, -1, 1, -1]) == 1.0
    assert sign_test_p([1, 1, 1, 1, -1]) == pytest.approx(2 * (1 + 5) / 32)
    assert sign_test_p([0, 0, 0]) == 1.0  # zeros are dropped
    assert sign_test_p([0, 0.2, 0.2]) == pytest.approx(0.5)


def test_no_spread():
    assert no_spread([-1 / 23] * 3)
    assert no_spread([11 / 23 - 12 / 23, 10 / 23 - 11 / 23, 13 / 23 - 14 / 23])  # float rounding
    assert not no_spread([0.1, 0.11, 0.09])
    assert not no_spread([0.1])  # one pair: no interval at all, not a zero-width one


def _models_on_shapes(m=600, p_a=0.85, p_b=0.65, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.random(m)  # shared difficulty: the two models are correlated shape by shape
    return (u < p_a).astype(float), (u < p_b).astype(float)


def test_bootstrap_clear_effect_contains_truth_and_excludes_zero():
    a, b = _models_on_shapes()
    true = a.mean() - b.mean()
    diff, low, high = bootstrap_difference(a, b, n_boot=2000, seed=0)
    assert diff == pytest.approx(true)
    assert low < true < high and low > 0
    assert verdict(low, high) == BETTER and verdict(-high, -low) == WORSE
    # for a correct-on-a-superset pair the sd of the difference is sqrt(q(1-q)/m), q = share
    # where they disagree: the interval half-width is close to 1.96 of that
    q = float((a != b).mean())
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(q * (1 - q) / len(a)), rel=0.15)
    # reproducible from its seed, different for another
    assert bootstrap_difference(a, b, seed=0) == (diff, low, high)
    assert bootstrap_difference(a, b, seed=1)[1] != low


def test_bootstrap_no_effect_contains_zero():
    rng = np.random.default_rng(3)
    a, b = (rng.random(400) < 0.7).astype(float), (rng.random(400) < 0.7).astype(float)
    diff, low, high = bootstrap_difference(a, b)
    assert low < 0 < high and verdict(low, high) == NO_DIFFERENCE
    same = bootstrap_difference(a, a)
    assert same == (0.0, 0.0, 0.0) and verdict(*same[1:]) == NO_DIFFERENCE


def test_bootstrap_class_balanced_statistic():
    # class 0: 8 shapes, class 1: 2 shapes. a gets class 1 right, b does not.
    labels = np.array([0] * 8 + [1] * 2)
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1], float)  # class acc 0.5, 1.0 -> mAcc 0.75
    b = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], float)  # class acc 0.75, 0.0 -> mAcc 0.375
    diff, low, high = bootstrap_difference(a, b, groups=labels, n_boot=500)
    assert diff == pytest.approx(0.375)
    assert bootstrap_difference(a, b)[0] == pytest.approx(0.0)  # the plain mean is equal
    assert low <= diff <= high
    with pytest.raises(ValueError, match="one entry per shape"):
        bootstrap_difference(a, b, groups=labels[:5])


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match="same test shapes"):
        bootstrap_difference([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_difference([1, 0], [0, 1], n_boot=0)


@pytest.mark.parametrize("low, high, higher, expected", [
    (0.01, 0.2, True, BETTER), (0.01, 0.2, False, WORSE),
    (-0.2, -0.01, True, WORSE), (-0.2, -0.01, False, BETTER),
    (0.0, 0.2, True, NO_DIFFERENCE), (-0.2, 0.0, True, NO_DIFFERENCE),  # touching 0
    (-0.1, 0.1, True, NO_DIFFERENCE), (1e-12, 1e-3, True, BETTER),
    (math.nan, math.nan, True, NO_DIFFERENCE),
])
def test_verdict_boundaries(low, high, higher, expected):
    assert verdict(low, high, higher) == expected
