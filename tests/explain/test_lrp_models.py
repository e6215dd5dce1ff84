"""LRP on every registered point-cloud model: shapes, agreement with zennit, conservation."""

import pytest
import torch
from explain_helpers import randomise_batchnorm, zero_biases

from reldrop3d.data import create_dataset
from reldrop3d.explain import STARTS, LRPConfig, fast_lrp, relevance
from reldrop3d.explain.targets import select_output
from reldrop3d.explain.zennit_lrp import zennit_lrp
from reldrop3d.models import create_model, list_models

POINT_MODELS = [m for m in list_models() if m.startswith(("pointnet", "dgcnn"))]
# Where both apply the same rules, zennit and the fast path agree (every op between LRP units is a
# gather, a copy or a hooked module: PointNet++'s interpolation is a WeightedSum module with the
# Epsilon rule). DGCNN is compared with the Epsilon input rule: its
# first EdgeConv conv is reparametrised on copies [x_j, x_i] during attribution, and zennit's Flat
# rule, which re-runs that forward with unit weights, would see [1, 0] instead of uniform weights.
ZENNIT_EXACT = {
    ("pointnet", "cls", "flat"), ("pointnet_tnet", "cls", "flat"), ("pointnet", "partseg", "flat"),
    ("pointnet2_ssg", "cls", "flat"), ("pointnet2_msg", "cls", "flat"),
    ("dgcnn", "cls", "epsilon"), ("dgcnn", "partseg", "epsilon"),
    ("pointnet2_ssg", "partseg", "flat"), ("pointnet2_msg", "partseg", "flat"),
}


def build(name, task, dtype=torch.float64):
    torch.manual_seed(0)
    kw = dict(num_classes=4) if task == "cls" else dict(num_classes=3, task="partseg", num_parts=6)
    if name.startswith("pointnet2"):
        kw["num_centroids"] = (64, 16)
    model = randomise_batchnorm(create_model(name, **kw)).to(dtype)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eps = 1e-12  # zennit's merged BN is x / sqrt(1 + eps), not the identity
    return model.eval()


@pytest.fixture(scope="module")
def shapes():
    ds = create_dataset("synthetic", "test", num_points=256, num_shapes=11)
    return ds.points[:3].double()


def targets(task):
    if task == "cls":
        return torch.tensor([0, 3, 1]), None
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 6, (3, 256), generator=gen), torch.tensor([0, 2, 1])


@pytest.mark.parametrize("name", POINT_MODELS)
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_relevance_finite_nontrivial(name, task, shapes):
    model = build(name, task, torch.float32)
    t, cat = targets(task)
    r = relevance(model, shapes.float(), t, category=cat)
    assert r.shape == (3, 256) and torch.isfinite(r).all()
    assert (r.std(1) > 0).all()


@pytest.mark.parametrize("name,task,input_rule", sorted(ZENNIT_EXACT))
@pytest.mark.parametrize("start", STARTS)
def test_fast_path_matches_zennit(name, task, input_rule, start, shapes):
    model = build(name, task)
    t, cat = targets(task)
    cfg = LRPConfig(input_rule=input_rule)
    fast = fast_lrp(model, shapes, t, category=cat, config=cfg, start=start)
    ref = zennit_lrp(model, shapes, t, category=cat, config=cfg, start=start)
    # zennit stabilises its Norm rule (DGCNN's average pooling) and the interpolation's Epsilon
    # rule (PointNet++ partseg) on small pooled values; elsewhere the paths agree to rounding
    tol = {("dgcnn", "cls"): 2e-3, ("pointnet2_ssg", "partseg"): 1e-4,
           ("pointnet2_msg", "partseg"): 1e-4}.get((name, task), 1e-6)
    torch.testing.assert_close(fast, ref, rtol=tol, atol=tol * ref.abs().max().item())


@pytest.mark.parametrize("name", [m for m in POINT_MODELS])
def test_conservation_with_zero_biases(name, shapes):
    model = zero_biases(build(name, "cls"))
    t, _ = targets("cls")
    r = fast_lrp(model, shapes, t)
    with torch.no_grad():
        logit = select_output(model(shapes), t)
    torch.testing.assert_close(r.sum(1), logit, rtol=0.01, atol=1e-3 * logit.abs().mean().item())


@pytest.mark.parametrize("name", ["pointnet2_ssg", "dgcnn"])
@pytest.mark.parametrize("method", ["lrp", "lrp_zennit"])
def test_sampling_and_grouping_are_constants(name, method, shapes):
    """No gradient reaches the parameters through attribution: a .grad set beforehand stays as it
    was (the old zennit path's autograd.backward accumulated into it)."""
    model = build(name, "cls", torch.float32)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    relevance(model, shapes.float(), targets("cls")[0], method=method)
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())


def _count_ops(fn, *names):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    counts = {e.key: e.count for e in prof.key_averages()}
    return [counts.get(n, 0) for n in names]


@pytest.mark.parametrize("name", POINT_MODELS)
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_relevance_pass_runs_each_layer_once(name, task, shapes):
    """One forward, one backward: every convolution runs once forward and once backward (all but
    the Flat input layers, whose rule needs no gradient), BatchNorm is merged into its
    convolution, and routing relevance to the points does not traverse the network again (as a
    second backward from PointNet++'s coordinate channels through the hidden features did)."""
    model = build(name, task, torch.float32)
    t, cat = targets(task)
    rules = LRPConfig().input_rules(model.lrp_input_layers)
    n_flat = sum(r == "flat" for r in rules.values())
    convs = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))]
    # off the points' path: T-Nets (constants during attribution), DGCNN's category-label branch
    constant = [n for n in convs if "tnet" in n or n.startswith("label_conv")]
    fwd, bwd, bn = _count_ops(lambda: relevance(model, shapes.float(), t, category=cat),
                              "aten::convolution", "aten::convolution_backward", "aten::batch_norm")
    # a max-pooled unit (PointNet's last encoder layer) is differentiated through its winners only
    pooled = len(getattr(model, "lrp_deferred_units", {}))
    assert (fwd, bwd, bn) == (len(convs), len(convs) - len(constant) - n_flat - pooled, 0)
