import pytest
import torch

from reldrop3d.masking import FILLS, RandomPointDropout, RelDrop, apply_fill


@pytest.fixture
def cloud():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(4, 128, 3, generator=gen), torch.rand(4, 128, generator=gen)


def test_reldrop_returns_masked_batch_and_mask(cloud):
    x, r = cloud
    xm, mask = RelDrop(0.5, 0.5)(x, r)
    assert xm.shape == x.shape and mask.shape == (4, 128) and mask.dtype == torch.bool
    assert (xm[mask] == 0).all()
    assert torch.equal(xm[~mask], x[~mask])
    assert 0.2 < mask.float().mean() < 0.8


def test_fill_first_copies_point_zero(cloud):
    x, _ = cloud
    mask = torch.zeros(4, 128, dtype=torch.bool)
    mask[:, 5:20] = True
    mask[:, 0] = True  # point 0 dropped too: the copy comes from the unmasked cloud
    out = apply_fill(x, mask, "first")
    assert torch.equal(out[:, 5], x[:, 0]) and torch.equal(out[:, 0], x[:, 0])
    assert torch.equal(out[:, 30:], x[:, 30:])


def test_fill_centroid_is_mean_of_kept(cloud):
    x, _ = cloud
    mask = torch.rand(4, 128, generator=torch.Generator().manual_seed(1)) < 0.3
    out = apply_fill(x, mask, "centroid")
    for b in range(4):
        assert torch.allclose(out[b][mask[b]], x[b][~mask[b]].mean(0).expand(int(mask[b].sum()), 3))


def test_fill_centroid_all_dropped_uses_all_points(cloud):
    x, _ = cloud
    out = apply_fill(x, torch.ones(4, 128, dtype=torch.bool), "centroid")
    assert torch.isfinite(out).all() and torch.allclose(out[:, 0], x.mean(1))


@pytest.mark.parametrize("fill", FILLS.names())
def test_every_fill_keeps_shape_and_kept_points(cloud, fill):
    x, _ = cloud
    mask = torch.rand(4, 128) < 0.5
    out = apply_fill(x, mask, fill)
    assert out.shape == x.shape and torch.equal(out[~mask], x[~mask])


def test_p_masks_only_a_share_of_the_batch():
    x = torch.randn(400, 64, 3)
    r = torch.rand(400, 64)
    _, mask = RelDrop(0.5, 0.5, p=0.25)(x, r, generator=torch.Generator().manual_seed(0))
    masked_samples = mask.any(1).float().mean()
    assert 0.18 < masked_samples < 0.32


def reldrop_loop_reference(x, r, u, alpha, beta):
    """The paper's rule and the centroid fill written out one sample at a time."""
    out, masks = x.clone(), []
    for b in range(x.shape[0]):
        span = r[b].max() - r[b].min()
        r_norm = (r[b] - r[b].min()) / span if span > 0 else torch.zeros_like(r[b])
        drop = alpha * u[b] + (1 - alpha) * r_norm >= 1 - beta
        kept = x[b][~drop]
        out[b][drop] = kept.mean(0) if len(kept) else x[b].mean(0)
        masks.append(drop)
    return out, torch.stack(masks)


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.0, 0.3), (0.3, 0.8), (1.0, 0.25),
                                        (0.0, 1.0)])
def test_reldrop_vectorised_equals_a_per_sample_loop(cloud, alpha, beta):
    x, r = (t.double() for t in cloud)
    r[1] = 0.7                      # a constant map: R_norm = 0 (no NaN)
    r[2] = r[2] * 1e3 - 5e2         # the rule is invariant to the map's scale and offset
    xm, mask = RelDrop(alpha, beta, fill="centroid")(x, r, torch.Generator().manual_seed(3))
    u = torch.rand(r.shape, generator=torch.Generator().manual_seed(3), dtype=r.dtype)
    ref_x, ref_mask = reldrop_loop_reference(x, r, u, alpha, beta)
    assert torch.equal(mask, ref_mask)
    torch.testing.assert_close(xm, ref_x, rtol=1e-12, atol=1e-12)
    assert xm.dtype == torch.float64 and mask.device == x.device
    assert ref_mask.any() and (beta == 1.0 or not ref_mask.all())  # the cases are not trivial


def test_bad_arguments_raise(cloud):
    x, r = cloud
    with pytest.raises(ValueError, match="unknown fill"):
        RelDrop(fill="nope")
    with pytest.raises(ValueError, match="does not match"):
        RelDrop()(x, r[:, :10])
    with pytest.raises(ValueError, match="must lie in"):
        RelDrop(alpha=2)


def test_random_point_dropout_fills_with_first_point():
    x = torch.randn(8, 256, 3)
    xm, mask = RandomPointDropout(0.875)(x, generator=torch.Generator().manual_seed(0))
    assert mask.any()
    assert torch.equal(xm[mask], x[:, :1].expand_as(x)[mask])
