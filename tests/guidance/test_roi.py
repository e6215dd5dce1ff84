"""ROI helpers, GWRP, ISNet bounds, background shuffling, energy pointing game."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.guidance import (
    box_roi,
    energy_pointing_game,
    gwrp,
    isnet_bounds,
    part_ids,
    roi_from_batch,
    roi_from_parts,
    shuffle_background,
    tune_isnet_bounds,
)


def test_gwrp_limits_and_mask():
    v = torch.tensor([[1.0, 4.0, 2.0, 8.0]])
    m = torch.tensor([[True, True, True, False]])
    assert gwrp(v, m, d=0.0).item() == 4.0  # max of the masked values
    assert gwrp(v, m, d=1.0).item() == pytest.approx(7 / 3)  # their mean
    assert gwrp(v, m, d=0.5).item() == pytest.approx((4 + 0.5 * 2 + 0.25 * 1) / 1.75)
    assert gwrp(v, torch.zeros_like(m), d=0.9).item() == 0.0
    v.requires_grad_(True)
    gwrp(v, m, 0.5).sum().backward()
    assert v.grad[0, 3] == 0 and (v.grad[0, :3] > 0).all()


def test_isnet_bounds_formula():
    t = torch.tensor([10.0, 12.0, 8.0, 11.0, 9.0])
    mu, sd = t.mean().item(), t.std().item()
    c1, c2 = isnet_bounds(t)
    assert c1 == pytest.approx(max(mu / 5, mu - 3 * sd))
    assert c2 == pytest.approx(min(25 * c1, mu + 3 * sd))
    with pytest.raises(ValueError, match="<= 0"):
        isnet_bounds(torch.tensor([-1.0, -2.0]))


def test_tune_isnet_bounds_on_model(gated_pts):
    model, x, on = gated_pts
    y = torch.zeros(x.shape[0], dtype=torch.long)
    c1, c2 = tune_isnet_bounds(model, [(x[:2], y[:2], on[:2]), (x[2:], y[2:], on[2:])])
    assert 0 < c1 <= c2


@pytest.mark.parametrize("layout", ["points", "images"])
def test_shuffle_background_permutes_only_background(layout):
    torch.manual_seed(0)
    if layout == "points":
        x, roi = torch.randn(3, 10, 3), torch.rand(3, 10) > 0.5
        elems = lambda t: t.reshape(-1, 3)  # noqa: E731
    else:
        x, roi = torch.randn(3, 2, 4, 5), torch.rand(3, 4, 5) > 0.5
        elems = lambda t: t.movedim(1, -1).reshape(-1, 2)  # noqa: E731
    out = shuffle_background(x, roi, layout, torch.Generator().manual_seed(1))
    flat_roi = roi.reshape(-1)
    torch.testing.assert_close(elems(out)[flat_roi], elems(x)[flat_roi])
    a, b = elems(out)[~flat_roi], elems(x)[~flat_roi]
    assert not torch.equal(a, b)
    torch.testing.assert_close(a[a[:, 0].argsort()], b[b[:, 0].argsort()])  # same multiset


def test_energy_pointing_game():
    rel = torch.tensor([[1.0, 3.0, -5.0], [0.0, -1.0, 0.0]])
    roi = torch.tensor([[True, False, True], [True, True, False]])
    epg = energy_pointing_game(rel, roi)
    assert epg[0].item() == pytest.approx(0.25)
    assert epg[1].isnan()


def test_roi_from_parts_and_names():
    parts = torch.tensor([[0, 1, 2, 3], [3, 3, 1, 0]])
    assert roi_from_parts(parts, [1, 3]).tolist() == [[False, True, False, True],
                                                      [True, True, True, False]]
    names = ["chair/seat", "chair/leg", "table/top", "table/leg"]
    assert part_ids(names, ["chair/seat", "table/*"]) == [0, 2, 3]
    with pytest.raises(ValueError, match="matches none"):
        part_ids(names, ["lamp/*"])
    with pytest.raises(ValueError, match="no part ids"):
        roi_from_parts(parts, [])


def test_roi_from_batch_and_boxes():
    with pytest.raises(KeyError, match="clutter"):
        roi_from_batch({"points": torch.zeros(1, 2, 3)})
    roi = torch.tensor([[True, False]])
    assert torch.equal(roi_from_batch({"roi": roi}), roi)
    m = box_roi((2, 4, 4), torch.tensor([[0, 0, 2, 2], [1, 1, 4, 3]]))
    assert m.shape == (2, 4, 4) and m[0].sum() == 4 and m[1].sum() == 6 and m[1, 3, 2]
