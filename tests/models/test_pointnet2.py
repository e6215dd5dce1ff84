"""PointNet++ SSG / MSG: shapes, parameter counts, LRP declarations, learning, determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reldrop3d.models.pointnet2  # noqa: F401  (registers the models)
from reldrop3d.models import create_model

NAMES = ["pointnet2_ssg", "pointnet2_msg"]
SMALL = dict(num_centroids=(32, 8))  # same layers and parameters, fewer centroids: fast tests


def _make(name, task="cls", in_channels=3, **kw):
    torch.manual_seed(0)
    if task == "partseg":
        return create_model(name, num_classes=4, in_channels=in_channels, task="partseg",
                            num_parts=7, **kw)
    return create_model(name, num_classes=5, in_channels=in_channels, **kw)


@pytest.mark.parametrize("name,low,high", [("pointnet2_ssg", 1.45e6, 1.50e6),
                                           ("pointnet2_msg", 1.72e6, 1.77e6)])
def test_parameter_counts_match_the_papers(name, low, high):
    n = sum(p.numel() for p in create_model(name, num_classes=40).parameters())
    print(f"{name}: {n} parameters (published ~{'1.47' if 'ssg' in name else '1.74'}M)")
    assert low < n < high


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("in_channels", [3, 6])
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_output_shapes(name, in_channels, task):
    model = _make(name, task, in_channels).eval()
    x = torch.randn(2, 96, in_channels)
    with torch.no_grad():
        if task == "cls":
            assert model(x).shape == (2, 5)
        else:
            assert model(x, torch.tensor([0, 3])).shape == (2, 96, 7)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_lrp_input_layers_are_first_convs(name, task):
    model = _make(name, task)
    modules = dict(model.named_modules())
    assert model.lrp_input_layers
    for layer in model.lrp_input_layers:
        assert isinstance(modules[layer], nn.Conv1d | nn.Conv2d)
    assert any(name.startswith("sa1.") for name in model.lrp_input_layers)
    # partseg: the last FP layer also sees the input points (declared as an input layer or as a
    # layer with mixed inputs, whichever the LRP interface uses)
    sees_points = set(model.lrp_input_layers) | set(getattr(model, "lrp_mixed_inputs", {}))
    assert ("fp1.mlp.0.0" in sees_points) == (task == "partseg")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_point_channels_of_mixed_layers_enter_through_taps(name, task):
    """Each layer with mixed inputs names the PointTap its point channels pass through; the tap
    hands on a tensor of its own (so its gradient is that one use's)."""
    from reldrop3d.models.layers import PointTap

    model = _make(name, task).eval()
    modules = dict(model.named_modules())
    seen = {}
    for layer, tap in model.lrp_mixed_inputs.items():
        assert isinstance(modules[layer], nn.Conv1d | nn.Conv2d) and isinstance(modules[tap], PointTap)
        modules[tap].register_forward_hook(lambda m, a, o, tap=tap: seen.update({tap: (a[0], o)}))
    x = torch.randn(2, 96, 3)
    with torch.no_grad():
        model(x) if task == "cls" else model(x, torch.tensor([0, 3]))
    assert set(seen) == set(model.lrp_mixed_inputs.values())
    for inp, out in seen.values():
        assert out is not inp and torch.equal(out, inp)


def test_every_bn_follows_its_conv_in_one_sequential():
    """zennit's SequentialMergeBatchNorm needs (linear, BN) as neighbours in a Sequential."""
    for task in ("cls", "partseg"):
        model = _make("pointnet2_msg", task)
        for mod in model.modules():
            if isinstance(mod, nn.Sequential):
                kids = list(mod)
                for i, kid in enumerate(kids):
                    if isinstance(kid, nn.BatchNorm1d | nn.BatchNorm2d):
                        assert i > 0 and isinstance(kids[i - 1], nn.Conv1d | nn.Conv2d | nn.Linear)
        assert not any(isinstance(m, nn.LeakyReLU) for m in model.modules())


@pytest.mark.parametrize("name", NAMES)
def test_eval_mode_is_deterministic_and_differentiable_in_the_points(name):
    model = _make(name, in_channels=6).eval()
    x = torch.randn(2, 128, 6, requires_grad=True)
    out = model(x)
    torch.testing.assert_close(out, model(x))
    out[:, 1].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_loss_falls_in_a_few_steps(name, task):
    model = _make(name, task, **SMALL).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 64, 3, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    if task == "cls":
        y = torch.randint(5, (4,), generator=g)

        def loss_fn():
            return F.cross_entropy(model(x), y)
    else:
        cat = torch.tensor([0, 1, 2, 3])
        y = (x[..., 0] > 0).long() + 2 * (x[..., 1] > 0).long()  # learnable part labels

        def loss_fn():
            return F.cross_entropy(model(x, cat).reshape(-1, 7), y.reshape(-1))
    losses = []
    for _ in range(8):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_torch_and_cluster_backends_give_the_same_model_output():
    from reldrop3d.ops import has_torch_cluster

    if not has_torch_cluster():
        pytest.skip("torch-cluster not installed")
    a = _make("pointnet2_ssg", "partseg", backend="torch").eval()
    b = _make("pointnet2_ssg", "partseg", backend="cluster").eval()
    x, cat = torch.rand(2, 128, 3), torch.tensor([1, 2])
    with torch.no_grad():
        torch.testing.assert_close(a(x, cat), b(x, cat))


@pytest.mark.parametrize("name", NAMES)
def test_bad_arguments(name):
    with pytest.raises(ValueError, match="3 \\(xyz\\) or 6"):
        create_model(name, num_classes=3, in_channels=4)
    with pytest.raises(ValueError, match="grouping"):
        reldrop3d.models.pointnet2.PointNet2(3, grouping="xsg")
    with pytest.raises(ValueError, match="num_parts"):
        create_model(name, num_classes=3, task="partseg")


def test_bad_inputs():
    model = _make("pointnet2_ssg", "partseg").eval()
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        model(torch.randn(2, 3, 64), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="category"):
        model(torch.randn(2, 64, 3))
