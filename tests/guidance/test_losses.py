"""Guidance losses: ~0 when all relevance lies in the ROI, larger when it lies outside; gradients
reach the parameters; bad input is rejected."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.guidance import (
    GUIDANCE,
    ActDiffLoss,
    ISNetLoss,
    create_guidance,
    forward_with_input_grad,
    list_guidance,
)
from reldrop3d.models import create_model

NAMES = ["rrr", "gradmask", "actdiff", "energy", "l1", "ppce", "isnet"]


def input_x_gradient_heatmap(model, x, target, category=None):
    """Differentiable input x gradient heat-map for image models (ISNet's heatmap_fn)."""
    x, logits = forward_with_input_grad(model, x)
    (g,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x, create_graph=True)
    return (x * g).sum(1)


def make_loss(name, layout):
    if name == "isnet":
        kw = dict(c1=1e-6, c2=1e6)  # foreground range wide open: only the background term acts
        if layout == "images":
            kw["heatmap_fn"] = input_x_gradient_heatmap
        return ISNetLoss(**kw)
    if name == "actdiff":
        return ActDiffLoss(seed=0)
    return create_guidance(name)


def test_registry_lists_every_loss():
    assert sorted(NAMES) == list_guidance()
    for name in NAMES:
        assert GUIDANCE.get(name).name == name


@pytest.mark.parametrize("name", NAMES)
def test_zero_inside_roi_and_larger_outside(gated, name):
    model, x, on, layout = gated
    target = torch.zeros(x.shape[0], dtype=torch.long)
    loss = make_loss(name, layout)
    inside = loss(model, x, target, on).item()
    outside = loss(model, x, target, ~on).item()
    assert abs(inside) < 1e-4, (name, inside)
    assert outside > inside + 1e-2, (name, inside, outside)


@pytest.mark.parametrize("name", NAMES)
def test_grows_as_relevance_leaves_the_roi(gated_pts, name):
    """A fixed-size ROI slides from the relevant points (0..4) onto irrelevant ones: the share of
    relevance outside it grows, and so does the loss."""
    model, x, on = gated_pts
    target = torch.zeros(x.shape[0], dtype=torch.long)
    loss = make_loss(name, "points")
    values = []
    for shift in (0, 2, 4):
        roi = torch.zeros_like(on)
        roi[:, shift : shift + 5] = True
        values.append(loss(model, x, target, roi).item())
    assert values[0] < values[1] < values[2], (name, values)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_pointnet_parameters(name):
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=4).train()
    x = torch.randn(4, 32, 3)
    y = torch.tensor([0, 1, 2, 3])
    roi = torch.rand(4, 32) > 0.3
    loss = make_loss(name, "points")(model, x, y, roi)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    first = model.encoder.mlp1[0][0].weight.grad
    assert first is not None and first.abs().sum() > 0
    if name != "actdiff":  # ActDiff compares the head's input: the head gets no gradient
        assert model.head[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["rrr", "gradmask", "energy", "l1", "ppce"])
def test_reuses_trainer_logits(name):
    """With x requiring grad during the trainer's forward, passing its logits gives the same loss
    as letting the loss run its own forward (eval mode: no dropout noise)."""
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=4).eval()
    loss_fn = create_guidance(name)
    assert loss_fn.needs_input_grad
    x = torch.randn(3, 16, 3)
    y = torch.tensor([0, 1, 2])
    roi = torch.rand(3, 16) > 0.5
    own = loss_fn(model, x, y, roi)
    xg = x.clone().requires_grad_(True)
    reused = loss_fn(model, xg, y, roi, logits=model(xg))
    torch.testing.assert_close(own, reused)


@pytest.mark.parametrize("name", ["actdiff", "isnet", "energy", "rrr"])
def test_own_forwards_leave_batchnorm_statistics_alone(name):
    """The trainer's forward updates the running statistics; the losses' own forwards must not."""
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=4).train()
    bn = model.encoder.mlp1[0][1]
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    make_loss(name, "points")(model, torch.randn(4, 16, 3), torch.zeros(4, dtype=torch.long),
                              torch.rand(4, 16) > 0.5)
    torch.testing.assert_close(bn.running_mean, before[0])
    assert bn.num_batches_tracked == before[1]


def test_actdiff_layer_by_name(gated):
    model, x, on, _ = gated
    target = torch.zeros(x.shape[0], dtype=torch.long)
    assert ActDiffLoss(layer="head", seed=0)(model, x, target, on).item() < 1e-4
    assert ActDiffLoss(layer="head", seed=0)(model, x, target, ~on).item() > 1e-2
    with pytest.raises(KeyError, match="not a module"):
        ActDiffLoss(layer="nope")(model, x, target, on)


def test_isnet_foreground_term_outside_range(gated_pts):
    model, x, on = gated_pts
    y = torch.zeros(x.shape[0], dtype=torch.long)
    inside = ISNetLoss(c1=1e-6, c2=1e6)(model, x, y, on).item()
    too_low = ISNetLoss(c1=1e6, c2=1e7)(model, x, y, on).item()
    too_high = ISNetLoss(c1=1e-7, c2=1e-6)(model, x, y, on).item()
    assert inside < 1e-6 and too_low > 1 and too_high > 1
    assert ISNetLoss.total(torch.tensor(2.0), torch.tensor(4.0), p=0.25).item() == 2.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(roi=torch.ones(2, 5)), "bool"),
        (dict(roi=torch.ones(2, 6, dtype=torch.bool)), "does not match"),
        (dict(target=torch.zeros(3, dtype=torch.long)), "samples"),
    ],
)
def test_bad_input(kwargs, match):
    model = create_model("pointnet", num_classes=4)
    args = dict(x=torch.randn(2, 5, 3), target=torch.zeros(2, dtype=torch.long),
                roi=torch.ones(2, 5, dtype=torch.bool))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        create_guidance("energy")(model, args["x"], args["target"], args["roi"])


@pytest.mark.parametrize(
    "name, kwargs",
    [("energy", dict(attribution="saliency")), ("l1", dict(eps=0)), ("isnet", dict(c1=2, c2=1)),
     ("isnet", dict(d=1.5))],
)
def test_bad_parameters(name, kwargs):
    with pytest.raises(ValueError):
        create_guidance(name, **kwargs)


def test_rao_lrp_attribution_on_points(gated_pts):
    model, x, on = gated_pts
    y = torch.zeros(x.shape[0], dtype=torch.long)
    loss = create_guidance("energy", attribution="lrp")
    assert not loss.needs_input_grad
    assert loss(model, x, y, on).item() < 1e-5
    assert loss(model, x, y, ~on).item() > 0.99


def test_isnet_upper_foreground_term_is_divided_by_c1():
    """ISNet's reference: ``mse(clamp(F/C1, min=C2/C1), C2/C1)`` = ((F - C2) / C1)^2 above C2.
    With tuned-looking bounds (C1 = 0.5, C2 = 12) and F = 15 that is 36; dividing by C2 instead
    (the old formula) would give 0.0625."""
    loss = ISNetLoss(c1=0.5, c2=12.0)
    roi = torch.ones(1, 10, dtype=torch.bool)
    heat = torch.full((1, 10), 1.5)  # F = 15
    _, fg = loss.terms(heat, roi)
    assert fg.item() == pytest.approx(((15 - 12) / 0.5) ** 2)
    assert fg.item() > 100 * ((15 - 12) / 12) ** 2
    below = loss.terms(torch.full((1, 10), 0.02), roi)[1]  # F = 0.2 < C1
    assert below.item() == pytest.approx(((0.5 - 0.2) / 0.5) ** 2)
    inside = loss.terms(torch.full((1, 10), 0.5), roi)[1]  # F = 5 in [C1, C2]
    assert inside.item() == 0.0


def test_isnet_background_pools_the_zeroed_foreground_like_the_reference():
    """Few background elements: GWRP weights run over all elements (foreground zeroed), as in
    ISNet's ``GlobalWeightedRankPooling(heatmap * Imask)``."""
    d, n = 0.9, 10
    heat = torch.tensor([[1.0] * 8 + [3.0, 2.0]])
    roi = torch.tensor([[True] * 8 + [False, False]])
    bkg, _ = ISNetLoss(d=d, E=1.0).terms(heat, roi)
    weights = d ** torch.arange(n, dtype=torch.float)
    expected = torch.log1p((3.0 * weights[0] + 2.0 * weights[1]) / weights.sum())
    torch.testing.assert_close(bkg, expected.view(1))


def test_tune_isnet_bounds_sums_the_whole_heatmap():
    """C1/C2 come from sum |H| over the whole heat-map (ISNet's tuneCut), not the ROI only."""
    from reldrop3d.guidance import isnet_bounds, relevance_totals, tune_isnet_bounds

    heat = torch.tensor([[1.0, -1.0, 4.0, 4.0], [2.0, 0.0, -6.0, 2.0], [1.0, 1.0, 1.0, 9.0]])
    roi = torch.tensor([[True, True, False, False]] * 3)
    x = torch.zeros(3, 4, 3)
    y = torch.zeros(3, dtype=torch.long)

    def fixed(model, x, target, category):
        return heat

    whole = relevance_totals(None, [(x, y, roi)], fixed)
    torch.testing.assert_close(whole, torch.tensor([10.0, 10.0, 12.0]))
    fg = relevance_totals(None, [(x, y, roi)], fixed, region="roi")
    torch.testing.assert_close(fg, torch.tensor([2.0, 2.0, 2.0]))
    assert tune_isnet_bounds(None, [(x, y)], fixed) == isnet_bounds(whole)
    assert tune_isnet_bounds(None, [(x, y, roi)], fixed, region="roi") == isnet_bounds(fg)
    assert tune_isnet_bounds(None, [(x, y, roi)], fixed)[0] > 2 * isnet_bounds(fg)[0]
    with pytest.raises(ValueError, match="need"):
        relevance_totals(None, [(x, y)], fixed, region="roi")
    with pytest.raises(ValueError, match="region"):
        relevance_totals(None, [(x, y)], fixed, region="foreground")


def _actdiff_by_hand(model, x, roi, seed, detach):
    """The ActDiff penalty written out: head inputs of x and of its shuffled copy."""
    from reldrop3d.guidance import shuffle_background

    shuffled = shuffle_background(x, roi, "points", torch.Generator().manual_seed(seed))
    feats = []
    handle = model.head.register_forward_pre_hook(lambda _m, args: feats.append(args[0]))
    try:
        model(shuffled)
        model(x)
    finally:
        handle.remove()
    ref = feats[0].detach() if detach else feats[0]
    return (feats[1] - ref).flatten(1).norm(dim=1).mean()


@pytest.mark.parametrize("symmetric", [True, False])
def test_actdiff_gradient_flows_through_both_branches_only_when_symmetric(symmetric):
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=4).eval()  # deterministic forwards
    x = torch.randn(3, 24, 3)
    roi = torch.rand(3, 24) > 0.5
    y = torch.zeros(3, dtype=torch.long)
    params = [p for p in model.parameters() if p.requires_grad]

    loss = ActDiffLoss(seed=3, symmetric=symmetric)(model, x, y, roi)
    got = torch.autograd.grad(loss, params, allow_unused=True)
    grads = {}
    for detach in (True, False):
        ref = _actdiff_by_hand(model, x, roi, 3, detach)
        torch.testing.assert_close(loss, ref)
        grads[detach] = torch.autograd.grad(ref, params, allow_unused=True)
    expected = grads[not symmetric]
    other = grads[symmetric]
    pairs = [(g, e, o) for g, e, o in zip(got, expected, other) if e is not None]
    assert pairs
    for g, e, _ in pairs:
        torch.testing.assert_close(g, e)
    assert any(not torch.allclose(e, o) for _, e, o in pairs)
    assert ActDiffLoss().symmetric  # Viviano et al.'s code: no branch detached


def test_actdiff_rejects_non_bool_symmetric():
    with pytest.raises(ValueError, match="symmetric"):
        ActDiffLoss(symmetric="no")
