import copy

import pytest
import torch
from explain_helpers import randomise_batchnorm, zero_biases

from reldrop3d.explain import LRPConfig, fast_lrp, list_methods, relevance
from reldrop3d.explain.zennit_lrp import zennit_lrp
from reldrop3d.models import create_model


def _small_eps_bn(model):
    # zennit turns a merged BatchNorm into x / sqrt(1 + eps); a tiny eps makes it the identity
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eps = 1e-12
    return model


@pytest.mark.parametrize("name", ["pointnet", "pointnet_tnet"])
@pytest.mark.parametrize("input_rule", ["flat", "epsilon"])
@pytest.mark.parametrize("zero_bias", [False, True])
def test_fast_lrp_matches_zennit(name, input_rule, zero_bias):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5).double()
    _small_eps_bn(randomise_batchnorm(model))
    x = torch.randn(3, 200, 3, dtype=torch.float64)
    t = torch.tensor([0, 2, 4])
    cfg = LRPConfig(input_rule=input_rule, epsilon=1e-6, zero_bias=zero_bias)
    fast = fast_lrp(model, x, t, config=cfg)
    ref = zennit_lrp(model, x, t, config=cfg)
    assert fast.shape == (3, 200)
    torch.testing.assert_close(fast, ref, rtol=1e-6, atol=1e-7 * ref.abs().max().item())


def test_fast_lrp_matches_zennit_on_trained_model_float32(trained_pointnet):
    model, x, y = trained_pointnet
    fast = fast_lrp(model, x, y)
    ref = zennit_lrp(model, x, y)
    # float32 rounding and zennit's merged BatchNorm (x / sqrt(1 + eps), not the identity):
    # agreement to a few 1e-3 of the largest relevance, correlation ~1
    assert (fast - ref).abs().max() <= 5e-3 * ref.abs().max()
    assert torch.corrcoef(torch.stack([fast.flatten(), ref.flatten()]))[0, 1] > 0.9999


CONSERVATIVE = [
    (fast_lrp, LRPConfig(input_rule="flat"), 0.01),
    (fast_lrp, LRPConfig(input_rule="epsilon"), 0.01),
    (zennit_lrp, LRPConfig(input_rule="flat"), 0.01),
    (zennit_lrp, LRPConfig(input_rule="epsilon"), 0.01),
    (zennit_lrp, LRPConfig(conv_rule="zplus"), 0.02),
    (zennit_lrp, LRPConfig(conv_rule="alpha_beta"), 0.02),
]


@pytest.mark.parametrize("backend,config,tol", CONSERVATIVE)
def test_relevance_conservation_on_trained_model(trained_pointnet, backend, config, tol):
    """With the biases zeroed, the per-point relevance sums to the explained logit."""
    model, x, y = trained_pointnet
    model = zero_biases(model)
    r = backend(model, x, y, config=config)
    with torch.no_grad():
        logit = model(x).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(r.sum(1), logit, rtol=tol, atol=tol / 10 * logit.abs().mean().item())


@pytest.mark.parametrize("conv_rule", ["zplus", "alpha_beta"])
def test_fast_path_refuses_other_conv_rules(trained_pointnet, conv_rule):
    model, x, y = trained_pointnet
    with pytest.raises(ValueError, match="fast path implements the Epsilon rule only"):
        fast_lrp(model, x, y, config=LRPConfig(conv_rule=conv_rule))


@pytest.mark.parametrize("backend", [fast_lrp, zennit_lrp])
def test_zero_bias_rule_conserves_relevance(trained_pointnet, backend):
    """zero_bias=True (zennit's zero_params='bias') conserves relevance on the original model,
    up to what the stabiliser absorbs: tiny with a tiny epsilon in float64."""
    model, x, y = trained_pointnet
    model = copy.deepcopy(model).double()
    x = x.double()
    r = backend(model, x, y, config=LRPConfig(zero_bias=True, epsilon=1e-12))
    with torch.no_grad():
        logit = model(x).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(r.sum(1), logit, rtol=1e-3, atol=1e-3 * logit.abs().mean().item())


def test_lrp_keeps_training_flags_and_leaves_no_hooks(trained_pointnet):
    model, x, y = trained_pointnet
    model.train()
    model.head[1][3].eval()  # a submodule with its own flag
    before = [m.training for m in model.modules()]
    fast_lrp(model, x, y)
    zennit_lrp(model, x, y)
    assert [m.training for m in model.modules()] == before
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model.eval()


def test_lrp_uses_eval_statistics(trained_pointnet):
    model, x, y = trained_pointnet
    model.train()
    r_train_flag = fast_lrp(model, x, y)
    model.eval()
    torch.testing.assert_close(r_train_flag, fast_lrp(model, x, y))


@pytest.mark.parametrize("method", ["lrp", "lrp_zennit", "gradient"])
def test_relevance_pass_leaves_parameter_grads_alone(method):
    """The relevance pass computes no parameter gradient: a .grad set beforehand is unchanged
    (an autograd.backward anywhere in the pass, or a T-Net not held constant, would change it)."""
    torch.manual_seed(0)
    model = create_model("pointnet_tnet", num_classes=4).eval()
    x = torch.randn(2, 64, 3)
    before = {}
    for name, p in model.named_parameters():
        p.grad = torch.full_like(p, 0.5)
        before[name] = p.grad.clone()
    relevance(model, x, torch.tensor([0, 1]), method=method)
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.equal(p.grad, before[name]), name
    assert all(p.requires_grad for p in model.parameters())


def test_default_target_is_prediction(trained_pointnet):
    model, x, _ = trained_pointnet
    with torch.no_grad():
        pred = model(x).argmax(1)
    torch.testing.assert_close(fast_lrp(model, x), fast_lrp(model, x, pred))


@pytest.mark.parametrize("method", list_methods("points"))
def test_every_method_finite_and_nontrivial(trained_pointnet, method):
    model, x, y = trained_pointnet
    r = relevance(model, x, y, method=method)
    assert r.shape == x.shape[:2] and torch.isfinite(r).all()
    assert r.std(1).min() > 0
    assert not r.requires_grad


def test_differentiable_relevance_has_parameter_gradients(trained_pointnet):
    model, x, y = trained_pointnet
    r = fast_lrp(model, x, y, differentiable=True)
    assert r.requires_grad
    r[:, :10].sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    model.zero_grad(set_to_none=True)


def test_partseg_relevance_shape():
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=3, task="partseg", num_parts=6).eval()
    x = torch.randn(2, 64, 3)
    parts = torch.randint(0, 6, (2, 64))
    r = relevance(model, x, parts, category=torch.tensor([0, 2]))
    assert r.shape == (2, 64) and torch.isfinite(r).all()
    with pytest.raises(ValueError, match="category"):
        relevance(model, x, parts)


def test_bad_inputs_raise(trained_pointnet):
    model, x, y = trained_pointnet
    with pytest.raises(ValueError, match="unknown relevance method"):
        relevance(model, x, y, method="nope")
    with pytest.raises(ValueError, match=r"\(B, N, C\)"):
        fast_lrp(model, x[0], y)
    with pytest.raises(ValueError, match="target"):
        fast_lrp(model, x, y[:2])
    with pytest.raises(ValueError, match="input_rule"):
        LRPConfig(input_rule="gamma")



def test_max_pooled_pointwise_has_the_dense_value_and_gradients():
    """The winners-only backward of PointNet's last encoder unit equals the dense one."""
    from reldrop3d.explain.fast_lrp import max_pooled_pointwise

    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 6, 1).double()
    x = torch.randn(3, 4, 50, dtype=torch.float64, requires_grad=True)
    g = torch.randn(3, 6, dtype=torch.float64)
    pooled, winners = conv(x).max(dim=-1)
    dense = torch.autograd.grad(pooled, [x, conv.weight, conv.bias], g)
    out = max_pooled_pointwise(x, conv.weight, conv.bias, pooled, winners)
    assert torch.equal(out, pooled)
    sparse = torch.autograd.grad(out, [x, conv.weight, conv.bias], g)
    for s, d in zip(sparse, dense):
        torch.testing.assert_close(s, d, rtol=1e-12, atol=1e-12)
