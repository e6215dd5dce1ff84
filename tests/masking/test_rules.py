import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reldrop3d.masking import (
    expected_drop_rate,
    minmax_normalize,
    random_dropout_mask,
    reldrop_mask,
)


def test_minmax_normalize_range_and_constant_map():
    r = torch.randn(4, 100) * 5 + 3
    n = minmax_normalize(r)
    assert torch.allclose(n.amin(1), torch.zeros(4)) and torch.allclose(n.amax(1), torch.ones(4))
    const = minmax_normalize(torch.full((2, 50), 7.0))
    assert torch.isfinite(const).all() and (const == 0).all()


def test_minmax_normalize_works_on_images():
    r = torch.randn(2, 8, 8)
    n = minmax_normalize(r)
    assert n.shape == r.shape and n.flatten(1).amax(1).allclose(torch.ones(2))


def test_minmax_normalize_rejects_nan():
    r = torch.randn(2, 10)
    r[0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        minmax_normalize(r)


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.2, 0.3), (0.8, 0.1), (0.0, 0.4), (1.0, 0.7)])
def test_drop_rate_matches_expectation(alpha, beta):
    gen = torch.Generator().manual_seed(0)
    r = torch.rand(64, 2048, generator=gen) ** 2
    mask = reldrop_mask(r, alpha, beta, generator=gen)
    measured = mask.float().mean(1).double()
    expected = expected_drop_rate(minmax_normalize(r), alpha, beta)
    # per-sample Bernoulli average over 2048 points: std <= 0.011
    assert (measured - expected).abs().mean() < 0.01
    assert abs(measured.mean() - expected.mean()) < 0.005


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_alpha_one_is_random_dropout_at_rate_beta(beta):
    gen = torch.Generator().manual_seed(1)
    r = torch.randn(32, 4096, generator=gen)
    mask = reldrop_mask(r, 1.0, beta, generator=gen)
    assert abs(mask.float().mean().item() - beta) < 0.01
    # independent of relevance: the most and least relevant halves are dropped alike
    order = r.argsort(1)
    low = mask.gather(1, order[:, :2048]).float().mean()
    high = mask.gather(1, order[:, 2048:]).float().mean()
    assert abs(low - high) < 0.02


def test_alpha_zero_drops_exactly_the_top_relevance():
    r = torch.linspace(0, 1, 101).repeat(3, 1)
    mask = reldrop_mask(r, 0.0, 0.25)
    assert torch.equal(mask, r >= 0.75)


def test_more_relevant_points_are_dropped_more_often():
    gen = torch.Generator().manual_seed(2)
    r = torch.rand(16, 4096, generator=gen)
    mask = reldrop_mask(r, 0.5, 0.5, generator=gen)
    assert mask[r > 0.8].float().mean() > 0.85  # P(drop) = r here
    assert mask[r < 0.2].float().mean() < 0.15


@pytest.mark.parametrize("alpha,beta", [(-0.1, 0.5), (0.5, 1.5), (float("nan"), 0.5)])
def test_impossible_parameters_raise(alpha, beta):
    with pytest.raises(ValueError, match="must lie in"):
        reldrop_mask(torch.rand(2, 10), alpha, beta)


def test_mask_is_deterministic_given_generator():
    r = torch.rand(4, 256)
    a = reldrop_mask(r, 0.5, 0.5, generator=torch.Generator().manual_seed(3))
    b = reldrop_mask(r, 0.5, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(0, 1),
    beta=st.floats(0, 1),
    b=st.integers(1, 4),
    n=st.integers(1, 64),
)
def test_mask_shape_dtype_and_monotonic_in_beta(alpha, beta, b, n):
    r = torch.randn(b, n)
    m1 = reldrop_mask(r, alpha, beta, generator=torch.Generator().manual_seed(0))
    m2 = reldrop_mask(r, alpha, min(1.0, beta + 0.1), generator=torch.Generator().manual_seed(0))
    assert m1.shape == (b, n) and m1.dtype == torch.bool
    assert not (m1 & ~m2).any()  # a larger beta never un-drops a point (same draws)


def test_random_dropout_mask_rate():
    gen = torch.Generator().manual_seed(0)
    mask = random_dropout_mask((2000, 512), max_ratio=0.8, generator=gen)
    assert abs(mask.float().mean().item() - 0.4) < 0.02  # E[U(0, 0.8)] = 0.4
    rates = mask.float().mean(1)
    assert rates.max() < 0.85 and rates.min() < 0.05


def test_random_dropout_rejects_bad_ratio():
    with pytest.raises(ValueError, match="max_ratio"):
        random_dropout_mask((2, 10), max_ratio=1.0)
