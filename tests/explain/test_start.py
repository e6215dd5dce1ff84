"""Where relevance starts: ``logit`` (R = z_t), ``onehot`` (R = 1), ``log_softmax`` (e_t - p).

Every LRP rule is linear in the relevance it receives, so the maps obey exact identities:
``R_logit = z_t * R_onehot`` and ``R_log_softmax = sum_k (delta_tk - p_k) R_onehot(k)``. Hence a
sample with ``z_t < 0`` has its ``logit`` map negated relative to ``onehot``: after RelDrop's
per-sample min-max normalisation ``norm(R_logit) = 1 - norm(R_onehot)`` (correlation -1), and the
``logit`` start drops the points the ``onehot`` start keeps.
"""

import pytest
import torch
from explain_helpers import randomise_batchnorm, zero_biases

from reldrop3d.explain import fast_lrp, relevance
from reldrop3d.explain.targets import initial_relevance
from reldrop3d.masking import reldrop_mask
from reldrop3d.models import create_model


def minmax(r):
    lo, hi = r.min(1, keepdim=True).values, r.max(1, keepdim=True).values
    return (r - lo) / (hi - lo)


@pytest.fixture(scope="module")
def case():
    """A float64 PointNet and a batch in which half of the explained logits are negative."""
    torch.manual_seed(0)
    model = randomise_batchnorm(create_model("pointnet", num_classes=6)).double().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eps = 1e-12  # zennit's merged BatchNorm is x / sqrt(1 + eps): same logits both paths
    x = torch.randn(8, 128, 3, dtype=torch.float64)
    with torch.no_grad():
        logits = model(x)
    # per sample: the class with the smallest logit for even rows, the largest for odd rows
    t = torch.where(torch.arange(8) % 2 == 0, logits.argmin(1), logits.argmax(1))
    z_t = logits.gather(1, t[:, None]).squeeze(1)
    if not ((z_t[::2] < 0).all() and (z_t[1::2] > 0).all()):
        # shift so that the argmax logits are positive and the argmin ones negative
        model.head[-1].bias.data -= logits.mean()
        with torch.no_grad():
            logits = model(x)
        z_t = logits.gather(1, t[:, None]).squeeze(1)
    assert (z_t[::2] < 0).all() and (z_t[1::2] > 0).all()
    return model, x, t, logits


@pytest.mark.parametrize("method", ["lrp", "lrp_zennit"])
def test_logit_map_is_z_t_times_onehot_map(case, method):
    model, x, t, logits = case
    z_t = logits.gather(1, t[:, None])
    r_logit = relevance(model, x, t, method=method, start="logit")
    r_onehot = relevance(model, x, t, method=method, start="onehot")
    torch.testing.assert_close(r_logit, z_t * r_onehot, rtol=1e-6, atol=1e-9 * r_logit.abs().max().item())


@pytest.mark.parametrize("method", ["lrp", "lrp_zennit"])
def test_log_softmax_map_is_the_softmax_weighted_onehot_maps(case, method):
    model, x, t, logits = case
    p = torch.softmax(logits, -1)
    per_class = torch.stack([relevance(model, x, torch.full_like(t, k), method=method, start="onehot")
                             for k in range(logits.shape[1])], 1)  # (B, K, N)
    weights = torch.nn.functional.one_hot(t, logits.shape[1]).double() - p
    expected = (weights[..., None] * per_class).sum(1)
    r = relevance(model, x, t, method=method, start="log_softmax")
    torch.testing.assert_close(r, expected, rtol=1e-6, atol=1e-9 * r.abs().max().item())


def test_negative_logit_flips_the_normalised_map_only_under_logit(case):
    """The bug the onehot/log_softmax starts remove: with z_t < 0 the ``logit`` map, min-max
    normalised, is ``1 -`` the onehot one, so RelDrop drops the points onehot ranks lowest."""
    model, x, t, _ = case
    n_logit = minmax(fast_lrp(model, x, t, start="logit"))
    n_onehot = minmax(fast_lrp(model, x, t, start="onehot"))
    neg, pos = slice(0, None, 2), slice(1, None, 2)
    torch.testing.assert_close(n_logit[neg], 1 - n_onehot[neg])
    torch.testing.assert_close(n_logit[pos], n_onehot[pos])
    for i in range(0, 8, 2):
        corr = torch.corrcoef(torch.stack([n_logit[i], n_onehot[i]]))[0, 1]
        assert corr == pytest.approx(-1.0, abs=1e-9)
    # alpha = 0: deterministic top share; on the negative samples the two starts drop
    # complementary ends of the ranking
    drop_logit = reldrop_mask(n_logit.float(), alpha=0.0, beta=0.2)
    drop_onehot = reldrop_mask(n_onehot.float(), alpha=0.0, beta=0.2)
    assert not (drop_logit[neg] & drop_onehot[neg]).any()
    assert torch.equal(drop_logit[pos], drop_onehot[pos])
    # the onehot start is not flipped by the sign of z_t: relevance sums to +1 on bias-free models
    free = zero_biases(model)
    s = fast_lrp(free, x, t, start="onehot").sum(1)
    torch.testing.assert_close(s, torch.ones_like(s), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("start,total", [("onehot", 1.0), ("log_softmax", 0.0)])
def test_conservation_of_each_start(case, start, total):
    """With zero biases the point relevance sums to the initial relevance: 1, or sum(e_t - p) = 0."""
    model, x, t, _ = case
    free = zero_biases(model)
    for method in ("lrp", "lrp_zennit"):
        s = relevance(free, x, t, method=method, start=start).sum(1)
        torch.testing.assert_close(s, torch.full_like(s, total), rtol=0, atol=2e-3)


def test_initial_relevance_values():
    z = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]])
    t = torch.tensor([0, 0])
    torch.testing.assert_close(initial_relevance(z, t, "logit"), torch.tensor([[2.0, 0, 0], [-3.0, 0, 0]]))
    torch.testing.assert_close(initial_relevance(z, t, "onehot"), torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))
    e = torch.tensor([[1.0, 0, 0], [1.0, 0, 0]])
    torch.testing.assert_close(initial_relevance(z, t, "log_softmax"), e - torch.softmax(z, -1))
    # the gradient of log_softmax's target entry, as zennit passes it
    zr = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.log_softmax(zr, -1).gather(1, t[:, None]).sum(), zr)
    torch.testing.assert_close(initial_relevance(z, t, "log_softmax"), g)


def test_reldrop_training_defaults_to_the_official_start(case):
    from reldrop3d.masking import make_masker
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.input_dropout import InputDropout

    cfg = TrainConfig()
    assert (cfg.lrp_start, cfg.lrp_composite) == ("log_softmax", "epsilon-flat")
    with pytest.raises(ValueError, match="lrp_start"):
        TrainConfig(lrp_start="softmax")
    with pytest.raises(ValueError, match="lrp_composite"):
        TrainConfig(lrp_composite="nope")
    model, x, t, _ = case
    dropout = InputDropout(make_masker("point", alpha=0.5, beta=0.5), method="lrp",
                           start=cfg.lrp_start, composite=cfg.lrp_composite)
    torch.testing.assert_close(dropout.explain(model, x, t), relevance(model, x, t, start="log_softmax"))
