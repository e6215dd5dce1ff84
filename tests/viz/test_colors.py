import numpy as np
import pytest
import torch

from reldrop3d.viz.colors import (
    cold_color,
    hot_color,
    label_colors,
    mask_colors,
    neutral_color,
    normalize_relevance,
    relevance_colors,
)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_relevance_colors_diverging_symmetric(as_tensor):
    r = np.array([0.0, 2.0, -2.0, 1.0, -0.5])
    c = relevance_colors(torch.tensor(r) if as_tensor else r)
    assert c.shape == (5, 3) and c.dtype == np.float64
    np.testing.assert_allclose(c[0], neutral_color(), atol=2e-3)
    np.testing.assert_allclose(c[1], hot_color(), atol=1e-9)
    np.testing.assert_allclose(c[2], cold_color(), atol=1e-9)
    np.testing.assert_allclose(hot_color("bwr"), (1, 0, 0), atol=1e-9)
    np.testing.assert_allclose(cold_color("bwr"), (0, 0, 1), atol=1e-9)
    # symmetric: +1 of max 2 is half-way to hot; red channel saturated, others at ~0.5
    np.testing.assert_allclose(c[3], (1.0, 0.5, 0.5), atol=5e-3)


def test_symmetric_keeps_zero_neutral_for_one_signed_relevance():
    c = relevance_colors(np.array([0.0, 1.0, 3.0]))
    np.testing.assert_allclose(c[0], neutral_color(), atol=2e-3)
    c_mm = relevance_colors(np.array([0.0, 1.0, 3.0]), symmetric=False)
    np.testing.assert_allclose(c_mm[0], cold_color(), atol=1e-9)  # min-max: lowest is cold


@pytest.mark.parametrize("value", [0.0, 3.5, -1.0])
@pytest.mark.parametrize("symmetric", [True, False])
def test_constant_relevance_is_neutral_and_finite(value, symmetric):
    c = relevance_colors(np.full(7, value), symmetric=symmetric)
    assert np.isfinite(c).all()
    np.testing.assert_allclose(c, np.tile(neutral_color(), (7, 1)), atol=2e-3)


def test_values_in_unit_range_for_extremes():
    r = np.array([1e-30, -1e30, 1e30, 5.0])
    c = relevance_colors(r)
    assert np.isfinite(c).all() and c.min() >= 0 and c.max() <= 1


def test_fixed_vmax_shares_scale_and_clips():
    u = normalize_relevance(np.array([0.5, 4.0, -4.0]), vmax=2.0)
    np.testing.assert_allclose(u, [0.625, 1.0, 0.0])
    with pytest.raises(ValueError, match="vmax"):
        normalize_relevance(np.ones(3), symmetric=False, vmax=1.0)


@pytest.mark.parametrize(
    "bad, match",
    [(np.array([0.0, np.nan]), "NaN"), (np.zeros((2, 2)), "shape"), (np.array([np.inf]), "NaN")],
)
def test_bad_relevance_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        relevance_colors(bad)


def test_unknown_cmap():
    with pytest.raises(ValueError, match="colour map"):
        relevance_colors(np.zeros(3), cmap="no_such_map")


def test_mask_and_label_colors():
    m = mask_colors(np.array([True, False]))
    assert not np.allclose(m[0], m[1])
    lab = label_colors(np.array([0, 1, 0, 21]))
    np.testing.assert_allclose(lab[0], lab[2])
    assert not np.allclose(lab[0], lab[1])
    assert lab.shape == (4, 3) and lab.min() >= 0 and lab.max() <= 1


def test_robust_vmax_ignores_a_single_outlier():
    from reldrop3d.viz.colors import relevance_scale, robust_vmax

    r = np.concatenate([np.linspace(-1, 1, 199), [-100.0]])
    v = robust_vmax(r, 99)
    assert 0.9 < v < 2.0
    c = relevance_colors(r, vmax=v)
    np.testing.assert_allclose(c[-1], cold_color())  # the outlier saturates
    np.testing.assert_allclose(c[198], hot_color(), atol=0.02)  # R = 1 is (nearly) hot, not pale
    assert relevance_scale(r, vmax=v) == (-v, v)
    assert robust_vmax(np.array([0.0, 0.0, 5.0]), 50) == 5.0  # percentile 0 -> max
    with pytest.raises(ValueError, match="percentile"):
        robust_vmax(r, 0)


@pytest.mark.parametrize("percentile", [90.0, 95.0, 99.0])
def test_percentile_scale_puts_the_percentile_at_the_ends_and_is_symmetric(percentile):
    from reldrop3d.viz.colors import robust_vmax

    g = np.random.default_rng(3)
    r = g.standard_t(2, size=500) * (g.uniform(size=500) < 0.5)  # sparse and heavy-tailed
    v = robust_vmax(r, percentile)
    assert v == pytest.approx(np.percentile(np.abs(r), percentile))
    u = normalize_relevance(np.array([v, -v, 3 * v, -3 * v, 0.5 * v, 0.0]), vmax=v)
    np.testing.assert_allclose(u, [1.0, 0.0, 1.0, 0.0, 0.75, 0.5])  # p-value at the ends, clipped
    # symmetric: R and -R mirror about the centre; the share of saturated points is 100 - p
    np.testing.assert_allclose(normalize_relevance(r, vmax=v) + normalize_relevance(-r, vmax=v), 1.0)
    saturated = np.isin(normalize_relevance(r, vmax=v), (0.0, 1.0)).mean()
    assert saturated == pytest.approx((100 - percentile) / 100, abs=0.01)
    np.testing.assert_allclose(relevance_colors(np.array([v]), vmax=v)[0], hot_color())


def test_default_percentile_saturates_more_than_max_scaling():
    from reldrop3d.viz.colors import DEFAULT_PERCENTILE, robust_vmax

    g = np.random.default_rng(0)
    r = np.where(g.uniform(size=512) < 0.5, 0.0, g.pareto(1.5, size=512))  # PointNet-like
    strong = lambda u: (np.abs(u - 0.5) > 0.25).mean()  # noqa: E731 - beyond half-way to an end
    assert strong(normalize_relevance(r, vmax=robust_vmax(r, DEFAULT_PERCENTILE))) > \
        3 * strong(normalize_relevance(r))
