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
