"""Image masking modes of ours (pixel, grid_patch, dropblock, region) and image fills; the
official 2D block / patch are tested in test_erasing.py."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.masking import (
    dropblock_mask,
    expected_drop_rate,
    grid_patch_mask,
    make_masker,
    minmax_normalize,
    region_image_mask,
)

EXACT = "donot_use_mm_for_euclid_dist"


def images(b=4, c=3, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g), torch.rand(b, h, w, generator=g)


def hot_corner(b=16, h=16, w=16):
    rel = 0.05 * torch.rand(b, h, w, generator=torch.Generator().manual_seed(1))
    rel[:, : h // 2, : w // 2] += 1.0
    return rel


@pytest.mark.parametrize("mode", ["pixel", "grid_patch", "dropblock", "region"])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (3, 1, 8, 13)])
def test_shapes(mode, shape):
    x = torch.rand(shape)
    rel = torch.rand(shape[0], *shape[2:])
    size = {} if mode == "pixel" else {"size": 3}
    xm, mask = make_masker(mode, alpha=0.5, beta=0.4, **size)(x, rel)
    assert xm.shape == x.shape and mask.shape == rel.shape and mask.dtype == torch.bool
    assert (xm.permute(0, 2, 3, 1)[mask] == 0).all()
    assert torch.equal(xm.permute(0, 2, 3, 1)[~mask], x.permute(0, 2, 3, 1)[~mask])


def test_pixel_budget_matches_rule():
    _, rel = images(b=64, h=16, w=16)
    mask = make_masker("pixel", alpha=0.5, beta=0.5).mask(torch.zeros(64, 1, 16, 16), rel)
    expected = expected_drop_rate(minmax_normalize(rel), 0.5, 0.5).mean()
    assert mask.float().mean() == pytest.approx(float(expected), abs=0.02)


@pytest.mark.parametrize("beta", [0.1, 0.3, 0.5])
def test_region_budget(beta):
    _, rel = images(b=8, h=20, w=20)
    mask = region_image_mask(rel, 0.5, beta, size=3)
    share = mask.flatten(1).float().mean(1)
    assert (share - beta).abs().max() <= 5 / 400  # half a 3x3 square
    exact = region_image_mask(rel, 0.5, beta, size=3, truncate=True)
    assert (exact.flatten(1).sum(1) == round(beta * 400)).all()


def test_region_image_seeds_spread():
    _, rel = images(b=2, h=16, w=16)
    _, seeds = region_image_mask(rel, 0.0, 0.5, size=4, return_seeds=True)
    for row in seeds:
        s = row[row >= 0]
        r, c = s // 16, s % 16
        cheb = torch.maximum((r[:, None] - r[None]).abs(), (c[:, None] - c[None]).abs())
        cheb.fill_diagonal_(99)
        assert cheb.min() >= 2  # no seed inside another seed's 4x4 square (reach 2 pixels)


def test_patch_whole_patches():
    _, rel = images(b=4, h=16, w=16)
    mask = grid_patch_mask(rel, 0.5, 0.5, size=4)
    tiles = mask.view(4, 4, 4, 4, 4).permute(0, 1, 3, 2, 4).reshape(4, 16, 16)
    assert (tiles.all(-1) | ~tiles.any(-1)).all()  # every 4x4 patch is all-or-nothing


@pytest.mark.parametrize("mode", ["pixel", "grid_patch", "dropblock", "region"])
def test_relevant_areas_dropped_more(mode):
    rel = hot_corner()
    size = {} if mode == "pixel" else {"size": 2}
    masker = make_masker(mode, alpha=0.3, beta=0.2, **size)
    mask = masker.mask(torch.zeros(16, 1, 16, 16), rel, torch.Generator().manual_seed(0))
    hot = mask[:, :8, :8].float().mean()
    cold = mask.float().sum() - mask[:, :8, :8].float().sum()
    assert hot > 2 * cold / (16 * 256 - 16 * 64)


def test_dropblock_area_near_pixel_rule_alpha_one():
    _, rel = images(b=32, h=32, w=32)
    share = dropblock_mask(rel, 1.0, 0.3, size=3, generator=torch.Generator().manual_seed(0))
    share = share.float().mean()
    assert 0.15 < share < 0.3  # ~ 1 - exp(-0.3) = 0.26, less at the border


@pytest.mark.parametrize("fill", ["zero", "mean", "first", "centroid", "resample"])
def test_image_fills(fill):
    x, rel = images(b=2, c=3, h=8, w=8)
    mean = torch.tensor([0.1, 0.2, 0.3])
    xm, mask = make_masker("pixel", alpha=0.5, beta=0.5, fill=fill, fill_value=mean)(x, rel)
    pix, pix_m = x.permute(0, 2, 3, 1), xm.permute(0, 2, 3, 1)
    assert torch.equal(pix_m[~mask], pix[~mask])
    if fill == "mean":
        assert torch.allclose(pix_m[mask], mean.expand(int(mask.sum()), 3))
    if fill == "resample":
        for b in range(2):
            kept = pix[b][~mask[b]]
            nearest = torch.cdist(pix_m[b][mask[b]], kept, compute_mode=EXACT).min(1).values
            assert (nearest < 1e-6).all()


def test_bad_image_inputs():
    x, rel = images()
    with pytest.raises(ValueError, match="expected \\(B, H, W\\)"):
        make_masker("block")(x, rel[:, :5])
    with pytest.raises(ValueError, match="for point clouds"):
        make_masker("point")(x, rel)
    with pytest.raises(ValueError, match="size"):
        grid_patch_mask(rel, 0.5, 0.5, size=0)
    with pytest.raises(ValueError, match="one value per channel"):
        make_masker("pixel", fill="mean", fill_value=torch.zeros(2))(x, rel)
