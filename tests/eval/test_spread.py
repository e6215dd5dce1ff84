import pytest
import torch

from reldrop3d.eval.spread import relevance_entropy, relevance_gini, share_for_mass, spread_metrics


def test_uniform_and_concentrated_extremes():
    uniform = torch.ones(2, 100)
    one = torch.zeros(2, 100)
    one[:, 7] = 3.0
    torch.testing.assert_close(relevance_entropy(uniform), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(relevance_entropy(one), torch.zeros(2, dtype=torch.float64))
    assert relevance_gini(uniform).abs().max() < 1e-9
    assert relevance_gini(one).min() > 0.98
    torch.testing.assert_close(share_for_mass(uniform), torch.full((2,), 0.9, dtype=torch.float64))
    torch.testing.assert_close(share_for_mass(one), torch.full((2,), 0.01, dtype=torch.float64))


def test_more_spread_relevance_scores_as_more_spread():
    gen = torch.Generator().manual_seed(0)
    wide = torch.rand(4, 256, generator=gen)
    narrow = wide ** 8
    m_wide, m_narrow = spread_metrics(wide), spread_metrics(narrow)
    assert m_wide["entropy"] > m_narrow["entropy"]
    assert m_wide["gini"] < m_narrow["gini"]
    assert m_wide["share_90"] > m_narrow["share_90"]


def test_negative_only_relevance_counts_as_uniform_and_bad_input_raises():
    r = -torch.rand(1, 50)
    assert relevance_entropy(r).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        share_for_mass(r, 0.0)
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        relevance_entropy(torch.rand(10))
