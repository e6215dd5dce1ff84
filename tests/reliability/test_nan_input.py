"""NaN / inf reaching the mask API: refused, naming the sample, for every fill (``centroid``,
``mean`` and ``resample`` would otherwise copy one NaN point into every dropped point) and for
NaN relevance. Rows: fill x bad value."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.masking import make_masker, mask_batch

FILLS = ["zero", "first", "centroid", "mean", "resample"]
BAD = [("NaN", float("nan")), ("inf", float("inf"))]


def _points(bad_value=None, sample=2):
    x = torch.randn(4, 32, 3, generator=torch.Generator().manual_seed(0))
    if bad_value is not None:
        x[sample, 5, 1] = bad_value
    return x


@pytest.mark.parametrize("kind, value", BAD, ids=[k for k, _ in BAD])
@pytest.mark.parametrize("fill", FILLS)
def test_non_finite_points_are_refused_naming_the_sample(fill, kind, value):
    masker = make_masker("point", fill=fill)
    relevance = torch.rand(4, 32)
    with pytest.raises(ValueError, match=f"points contain {kind} at sample 2"):
        masker(_points(value), relevance)
    with pytest.raises(ValueError, match=f"points contain {kind} at sample 2"):
        mask_batch(masker, _points(value), lambda index: relevance[index])


@pytest.mark.parametrize("fill", FILLS)
def test_nan_relevance_is_refused_naming_the_sample(fill):
    relevance = torch.rand(4, 32)
    relevance[1, 7] = float("nan")
    with pytest.raises(ValueError, match="relevance contains NaN at sample 1"):
        make_masker("point", fill=fill)(_points(), relevance)


@pytest.mark.parametrize("fill", ["centroid", "mean", "resample"])
def test_finite_input_fills_with_finite_points(fill):
    x_masked, mask = make_masker("point", fill=fill, alpha=0.0, beta=0.5)(_points(), torch.rand(4, 32))
    assert mask.any() and torch.isfinite(x_masked).all()
