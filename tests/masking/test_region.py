"""Region (spatially balanced) RelDrop on point clouds, the Masker API, fills, p fraction."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.masking import FILLS, greedy_regions, make_masker, mask_batch, region_point_mask
from reldrop3d.ops import knn

EXACT = "donot_use_mm_for_euclid_dist"


def cloud(b=4, n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 3, generator=g) * 2 - 1, torch.rand(b, n, generator=g)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("truncate", [False, True])
def test_budget(beta, truncate):
    x, r = cloud()
    k = 16
    mask = region_point_mask(x, r, 0.5, beta, k=k, truncate=truncate,
                             generator=torch.Generator().manual_seed(1))
    count = mask.sum(1)
    budget = round(beta * x.shape[1])
    if truncate:
        assert (count == budget).all()
    else:  # whole neighbourhoods, closest to the budget: within half a neighbourhood
        assert ((count - budget).abs() <= k // 2).all(), count


@pytest.mark.parametrize("radius", [None, 0.35])
def test_seeds_spread(radius):
    x, r = cloud(b=3, n=300)
    k = 24 if radius is None else 300
    mask, seeds = region_point_mask(x, r, 0.0, 0.5, k=k, radius=radius, return_seeds=True)
    for b in range(x.shape[0]):
        s = seeds[b][seeds[b] >= 0]
        assert len(s) >= 2
        p = x[b, s]
        dist = torch.cdist(p, p)
        for i in range(len(s)):
            # every later seed lies outside seed i's neighbourhood
            if radius is None:
                _, d2 = knn(p[i].view(1, 1, 3), x[b:b + 1], k)
                reach = d2[0, 0, -1].sqrt()
            else:
                reach = torch.tensor(radius)
            later = dist[i, i + 1:]
            assert (later >= reach - 1e-6).all()


def test_whole_neighbourhoods_dropped():
    x, r = cloud(b=2, n=200)
    mask, seeds = region_point_mask(x, r, 0.2, 0.3, k=10, return_seeds=True)
    for b in range(2):
        s = seeds[b][seeds[b] >= 0]
        idx, _ = knn(x[b:b + 1, s], x[b:b + 1], 10)
        covered = torch.zeros(200, dtype=torch.bool)
        covered[idx.flatten()] = True
        assert torch.equal(covered, mask[b])


def test_deterministic_with_generator():
    x, r = cloud()
    a = region_point_mask(x, r, 0.7, 0.4, generator=torch.Generator().manual_seed(3))
    b = region_point_mask(x, r, 0.7, 0.4, generator=torch.Generator().manual_seed(3))
    c = region_point_mask(x, r, 0.7, 0.4, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_relevant_regions_dropped_more_often():
    x, _ = cloud(b=16, n=256, seed=5)
    relevance = (x[..., 0] > 0).float() + 0.1 * torch.rand(16, 256)
    mask = region_point_mask(x, relevance, 0.3, 0.25, k=16,
                             generator=torch.Generator().manual_seed(0))
    hot = mask[x[..., 0] > 0].float().mean()
    cold = mask[x[..., 0] <= 0].float().mean()
    assert hot > 2 * cold


def test_alpha_one_ignores_relevance():
    x, _ = cloud(b=32, n=256, seed=6)
    relevance = (x[..., 0] > 0).float()
    mask = region_point_mask(x, relevance, 1.0, 0.25, k=16,
                             generator=torch.Generator().manual_seed(0))
    hot = mask[x[..., 0] > 0].float().mean()
    cold = mask[x[..., 0] <= 0].float().mean()
    assert abs(hot - cold) < 0.08


def test_greedy_regions_stops_at_budget():
    score = torch.tensor([[0.9, 0.8, 0.1, 0.0]])

    def single(seed):  # each element is its own neighbourhood
        member = torch.nn.functional.one_hot(seed, 4).bool()
        return member, torch.zeros(1, 4)

    mask, seeds = greedy_regions(score, single, 2)
    assert mask.tolist() == [[True, True, False, False]]
    assert seeds[0, :2].tolist() == [0, 1] and (seeds[0, 2:] == -1).all()


@pytest.mark.parametrize("mode", ["point", "region"])
@pytest.mark.parametrize("fill", ["zero", "first", "centroid", "resample", "mean"])
def test_masker_points_fills(mode, fill):
    x, r = cloud()
    mean = torch.tensor([5.0, 6.0, 7.0])
    kw = {"k": 16} if mode == "region" else {}
    masker = make_masker(mode, alpha=0.3, beta=0.3, fill=fill, fill_value=mean, **kw)
    xm, mask = masker(x, r, generator=torch.Generator().manual_seed(0))
    assert xm.shape == x.shape and mask.shape == x.shape[:2] and mask.any()
    assert torch.equal(xm[~mask], x[~mask])
    dropped = xm[mask]
    if fill == "zero":
        assert (dropped == 0).all()
    elif fill == "mean":
        assert (dropped == mean).all()
    elif fill == "first":
        assert torch.equal(dropped, x[:, :1].expand_as(x)[mask])
    elif fill == "resample":  # every dropped point is a copy of a kept point of its sample
        for b in range(x.shape[0]):
            kept = x[b][~mask[b]]
            assert (torch.cdist(xm[b][mask[b]], kept, compute_mode=EXACT).min(1).values == 0).all()


def test_resample_all_dropped_unchanged():
    x, _ = cloud(b=2, n=10)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0] = True
    out = FILLS.get("resample")(x, mask)
    assert torch.equal(out[0], x[0])


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_p_fraction_and_subset(p):
    x, r = cloud(b=64, n=64)
    masker = make_masker("region", alpha=0.5, beta=0.5, p=p, k=8)
    calls = []

    def explain(index):
        calls.append(index)
        return r[index]

    xm, mask = mask_batch(masker, x, explain, generator=torch.Generator().manual_seed(0))
    masked = mask.any(1)
    assert masked.float().mean() == pytest.approx(p, abs=0.2)
    assert torch.equal(xm[~masked], x[~masked])
    if p > 0:
        assert torch.equal(calls[0], masked.nonzero().flatten())  # only those were explained
    else:
        assert not calls


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="nope"), "unknown mask mode"),
        (dict(alpha=1.5), "alpha"),
        (dict(beta=-0.1), "beta"),
        (dict(p=2.0), "p must"),
        (dict(fill="blue"), "unknown fill"),
        (dict(mode="region", k=0), "positive int"),
        (dict(mode="region", radius=-1.0), "radius"),
        (dict(mode="dropblock", size=0), "size"),
        (dict(mode="block", alpha=0.3), "takes no keyword argument"),
        (dict(mode="point", k=3), "takes no keyword argument"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_masker(**kwargs)


def test_bad_inputs():
    x, r = cloud()
    with pytest.raises(ValueError, match="does not match"):
        make_masker("region")(x, r[:, :10])
    with pytest.raises(ValueError, match="for images"):
        make_masker("pixel")(x, r)
    with pytest.raises(ValueError, match="exceeds"):
        make_masker("region", k=1000)(x, r)
    with pytest.raises(ValueError, match="NaN"):
        make_masker("region")(x, torch.full_like(r, float("nan")))


def test_mean_fill_without_value_uses_batch_mean_of_kept():
    x = torch.tensor([[[1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [9.0, 9.0, 9.0]]])
    mask = torch.tensor([[False, False, True]])
    out = FILLS.get("mean")(x, mask)
    assert out[0, 2].tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("radius", [None, 0.4])
def test_step_and_graph_backends_agree(radius):
    x, r = cloud(b=3, n=128)
    kw = dict(alpha=0.4, beta=0.4, k=12, radius=radius)
    a = region_point_mask(x, r, generator=torch.Generator().manual_seed(2), **kw)
    b = region_point_mask(x, r, generator=torch.Generator().manual_seed(2), backend="torch", **kw)
    assert torch.equal(a, b)


@pytest.mark.gpu
@pytest.mark.parametrize("x_dim", [3, 4])
def test_region_on_gpu(x_dim):
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    if x_dim == 3:
        x, r = (t.to(dev) for t in cloud(b=8, n=512))
    else:
        x, r = torch.rand(8, 3, 32, 32, device=dev), torch.rand(8, 32, 32, device=dev)
    kw = dict(k=16) if x_dim == 3 else dict(size=3)
    masker = make_masker("region", alpha=0.5, beta=0.3, truncate=True, p=0.5, **kw)
    xm, mask = masker(x, r, generator=gen)
    assert xm.device.type == "cuda" and mask.device.type == "cuda"
    per_sample = mask.flatten(1).sum(1)
    budget = round(0.3 * mask.flatten(1).shape[1])
    assert ((per_sample == 0) | (per_sample == budget)).all()
