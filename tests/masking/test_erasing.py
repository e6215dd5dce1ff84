"""The official 2D block / patch (one Random-Erasing rectangle at the top relevance) and the
Random-Erasing baseline: geometry, clipping, fill, p."""

from __future__ import annotations

import math

import pytest
import torch

from reldrop3d.masking import (
    boxes_to_mask,
    defaults,
    erasing_sizes,
    make_masker,
    random_erasing_boxes,
    relevance_erasing_boxes,
)

H = W = 64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def peaked(b, h=H, w=W, seed=0):
    """Relevance (B, H, W) with a distinct maximum per sample; returns it and the argmax (B,)."""
    rel = torch.rand(b, h, w, generator=gen(seed))
    top = torch.randint(0, h * w, (b,), generator=gen(seed + 1))
    rel.view(b, -1)[torch.arange(b), top] = 5.0
    return rel, top


def test_sizes_follow_random_erasing():
    b = 4000
    h, w, found = erasing_sizes(b, H, W, generator=gen())
    assert found.float().mean() > 0.99
    h, w = h[found].double(), w[found].double()
    share = h * w / (H * W)
    # the drawn area share lies in [0.02, 0.4]; h and w are rounded, so allow half a pixel each
    slack = (0.5 * (h + w) + 0.25) / (H * W)
    assert (share >= 0.02 - slack).all() and (share <= 0.4 + slack).all()
    assert share.min() < 0.03 and share.max() > 0.37  # the whole range is used
    ratio = h / w
    lo, hi = defaults.ERASE_RATIO
    assert (ratio >= lo * (1 - 1 / w) - 1e-9).all() and (ratio <= hi * (1 + 1 / w) + 1e-9).all()
    assert ((h > 0) & (h < H) & (w > 0) & (w < W)).all()
    # log-uniform aspect ratio: log(h/w) is symmetric about 0, as many tall as wide rectangles
    assert abs(torch.log(ratio).mean().item()) < 0.05
    assert abs((ratio > 1).double().mean().item() - (ratio < 1).double().mean().item()) < 0.05


def test_sizes_rejected_when_nothing_fits():
    h, w, found = erasing_sizes(8, 2, 2, scale=(0.9, 1.0), ratio=(1.0, 1.0), attempts=5,
                                generator=gen())
    assert not found.any() and (h == 0).all() and (w == 0).all()
    mask = make_masker("block", scale=(0.9, 1.0), ratio=(1.0, 1.0), attempts=5).mask(
        torch.zeros(8, 1, 2, 2), torch.rand(8, 2, 2))
    assert not mask.any()  # no draw fitted: the image is left unchanged, as the official code


@pytest.mark.parametrize("seed", range(3))
def test_block_rectangle_centred_on_the_top_pixel(seed):
    b = 64
    rel, top = peaked(b, seed=seed)
    boxes = relevance_erasing_boxes(rel, k=1, generator=gen(seed))
    cy, cx = top // W, top % W
    # unclipped corner = round(c - side / 2) with halves to even (Python's round)
    for i in range(b):
        h, w = int(boxes.height[i]), int(boxes.width[i])
        assert int(boxes.top[i]) == round(int(cy[i]) - h / 2)
        assert int(boxes.left[i]) == round(int(cx[i]) - w / 2)
    mask = boxes_to_mask(boxes, H, W)
    big = (boxes.height >= 2) & (boxes.width >= 2)
    assert mask.view(b, -1)[torch.arange(b), top][big].all()  # the top pixel is erased
    # the masker gives the same rectangles (one per image, p = 1)
    masker_mask = make_masker("block", p=1.0).mask(torch.zeros(b, 1, H, W), rel, gen(seed))
    assert torch.equal(masker_mask, mask)


def test_rectangles_clipped_at_the_border():
    b = 200
    rel = torch.rand(b, H, W, generator=gen())
    rel[:, 0, 0] = 5.0  # top-left corner: the rectangle must be cut, not shifted
    boxes = relevance_erasing_boxes(rel, k=1, generator=gen(3))
    mask = boxes_to_mask(boxes, H, W)
    assert (boxes.top <= 0).all() and (boxes.left <= 0).all()
    rows = mask.any(2).sum(1)
    cols = mask.any(1).sum(1)
    assert torch.equal(rows, (boxes.top + boxes.height).clamp(max=H))
    assert torch.equal(cols, (boxes.left + boxes.width).clamp(max=W))
    assert mask[:, 0, 0].all()
    assert (mask.flatten(1).sum(1) < boxes.height * boxes.width).any()  # some were clipped
    # the mask is exactly the clipped rectangle
    for i in range(0, b, 37):
        r, c = int(rows[i]), int(cols[i])
        assert mask[i, :r, :c].all() and mask[i].sum() == r * c


def test_patch_area_over_k_at_one_of_the_top_k():
    b, k = 400, 5
    rel = torch.rand(b, H, W, generator=gen())
    top5 = rel.view(b, -1).topk(k, dim=1).indices
    boxes = relevance_erasing_boxes(rel, k=k, area_divisor=k, generator=gen(1))
    share = (boxes.height * boxes.width).double() / (H * W)
    slack = (0.5 * (boxes.height + boxes.width) + 0.25).double() / (H * W)
    assert (share <= 0.4 / k + slack).all() and (share >= 0.02 / k - slack).all()
    # the centre is one of the top 5, each chosen about equally often (one rectangle, not five)
    centre_row = boxes.top + torch.div(boxes.height, 2, rounding_mode="floor")
    centre_col = boxes.left + torch.div(boxes.width, 2, rounding_mode="floor")
    d = ((centre_row.unsqueeze(1) - top5 // W).abs() <= 1) & (
        (centre_col.unsqueeze(1) - top5 % W).abs() <= 1)
    assert d.any(1).all()
    chosen = d.float().argmax(1)
    counts = torch.bincount(chosen, minlength=k).float() / b
    assert (counts > 0.1).all()
    # patch via the masker: one connected rectangle per image
    mask = make_masker("patch").mask(torch.zeros(b, 1, H, W), rel, gen(1))
    rows, cols = mask.any(2).sum(1), mask.any(1).sum(1)
    assert torch.equal(mask.flatten(1).sum(1), rows * cols)


def test_patch_attempts_default_is_100_per_candidate():
    masker = make_masker("patch", k=5)
    assert masker.attempts is None  # resolved to 500 draws when masking
    with pytest.raises(ValueError, match="attempts"):
        make_masker("block", attempts=None)


def test_mean_fill_on_the_rectangle():
    x = torch.rand(6, 3, H, W, generator=gen())
    rel, _ = peaked(6)
    mean = torch.tensor([0.4914, 0.4822, 0.4465])  # CIFAR-10 channel means of the official code
    xm, mask = make_masker("block", fill="mean", fill_value=mean)(x, rel, gen(2))
    assert mask.flatten(1).any(1).all()
    pix = xm.permute(0, 2, 3, 1)
    assert torch.equal(pix[mask], mean.expand(int(mask.sum()), 3))
    assert torch.equal(pix[~mask], x.permute(0, 2, 3, 1)[~mask])


@pytest.mark.parametrize("mode", ["block", "patch"])
def test_p_is_drawn_per_batch(mode):
    x = torch.rand(4, 1, 16, 16)
    rel, _ = peaked(4, 16, 16)
    masker = make_masker(mode, p=0.3)
    g = gen(5)
    erased = []
    for _ in range(300):
        _, mask = masker(x, rel, g)
        per_image = mask.flatten(1).any(1)
        assert per_image.all() or not per_image.any()  # the whole batch or none of it
        erased.append(bool(per_image.any()))
    assert abs(sum(erased) / len(erased) - 0.3) < 0.08


def test_random_erasing_inside_and_uniform():
    b = 3000
    boxes = random_erasing_boxes(b, H, W, generator=gen())
    ok = boxes.found
    assert ok.float().mean() > 0.99
    assert (boxes.top[ok] >= 0).all() and (boxes.left[ok] >= 0).all()
    assert (boxes.top[ok] + boxes.height[ok] <= H).all()
    assert (boxes.left[ok] + boxes.width[ok] <= W).all()
    # the corner is uniform over the places where the rectangle fits: mean position ~ 1/2
    pos = boxes.top[ok].double() / (H - boxes.height[ok]).double().clamp(min=1)
    assert abs(pos.mean().item() - 0.5) < 0.03
    mask = boxes_to_mask(boxes, H, W)
    assert torch.equal(mask.flatten(1).sum(1), boxes.height * boxes.width)


def test_random_erasing_per_sample_p_and_deterministic():
    x = torch.rand(2000, 1, 8, 8)
    masker = make_masker("random_erasing", p=0.5)
    _, a = masker(x, generator=gen(4))
    _, b = masker(x, generator=gen(4))
    assert torch.equal(a, b)
    share = a.flatten(1).any(1).float().mean().item()
    assert abs(share - 0.5) < 0.05


@pytest.mark.parametrize("kw, match", [
    (dict(scale=(0.5, 0.1)), "scale"),
    (dict(scale=(0.0, 0.4)), "scale"),
    (dict(ratio=(-1.0, 2.0)), "ratio"),
    (dict(ratio=3), "pairs"),
    (dict(attempts=0), "attempts"),
    (dict(k=0), "k must"),
])
def test_bad_erasing_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        make_masker("block", **kw)


def test_official_numbers():
    assert defaults.ERASE_SCALE == (0.02, 0.4)
    assert math.isclose(defaults.ERASE_RATIO[0], 0.3)
    assert math.isclose(defaults.ERASE_RATIO[1], 1 / 0.3)
    assert (defaults.BLOCK_K, defaults.PATCH_K, defaults.ERASE_ATTEMPTS) == (1, 5, 100)
    assert make_masker("block").k == 1 and make_masker("patch").k == 5
