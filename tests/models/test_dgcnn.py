"""DGCNN: shapes, parameter count, dynamic graph, LRP declarations, learning, determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reldrop3d.models.dgcnn  # noqa: F401  (registers the model)
from reldrop3d.models import create_model


def _make(task="cls", in_channels=3, **kw):
    torch.manual_seed(0)
    if task == "partseg":
        return create_model("dgcnn", num_classes=4, in_channels=in_channels, task="partseg",
                            num_parts=7, **kw)
    return create_model("dgcnn", num_classes=5, in_channels=in_channels, **kw)


def test_parameter_count_matches_the_paper():
    n = sum(p.numel() for p in create_model("dgcnn", num_classes=40, k=20).parameters())
    print(f"dgcnn: {n} parameters (published ~1.8M)")
    assert 1.75e6 < n < 1.85e6


@pytest.mark.parametrize("in_channels", [3, 6])
@pytest.mark.parametrize("task", ["cls", "partseg"])
@pytest.mark.parametrize("k", [1, 20])
def test_output_shapes(in_channels, task, k):
    model = _make(task, in_channels, k=k).eval()
    x = torch.randn(2, 128, in_channels)
    with torch.no_grad():
        if task == "cls":
            assert model(x).shape == (2, 5)
        else:
            assert model(x, torch.tensor([0, 3])).shape == (2, 128, 7)


def test_more_neighbours_than_points_is_capped():
    model = _make(k=40).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 16, 3)).shape == (2, 5)


def test_graph_is_dynamic(monkeypatch):
    """The first graph is built on xyz, the later ones on the features of the previous layer."""
    import reldrop3d.models.dgcnn as mod

    model = _make(in_channels=6, k=4).eval()
    seen, real_knn = [], mod.knn

    def spy(query, points, k, **kw):
        seen.append(query.shape[-1])
        return real_knn(query, points, k, **kw)

    monkeypatch.setattr(mod, "knn", spy)
    with torch.no_grad():
        model(torch.randn(2, 32, 6))
    assert seen == [3, 64, 64, 128]


def test_blocks_are_conv_bn_leaky_relu():
    model = _make("partseg")
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert leaky and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    for mod in model.modules():
        if isinstance(mod, nn.Sequential):
            kids = list(mod)
            for i, kid in enumerate(kids):
                if isinstance(kid, nn.BatchNorm1d | nn.BatchNorm2d):
                    assert isinstance(kids[i - 1], nn.Conv1d | nn.Conv2d | nn.Linear)
    modules = dict(model.named_modules())
    assert all(isinstance(modules[n], nn.Conv2d) for n in model.lrp_input_layers)


@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_eval_mode_is_deterministic_and_differentiable(task):
    model = _make(task).eval()
    x = torch.randn(2, 64, 3, requires_grad=True)
    cat = torch.tensor([0, 2]) if task == "partseg" else None
    out = model(x, cat)
    torch.testing.assert_close(out, model(x, cat))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("task", ["cls", "partseg"])
def test_loss_falls_in_a_few_steps(task):
    model = _make(task, k=8).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 64, 3, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    cat = torch.tensor([0, 1, 2, 3])
    if task == "cls":
        y = torch.randint(5, (4,), generator=g)
    else:  # learnable part labels: the quadrant in the xy plane
        y = (x[..., 0] > 0).long() + 2 * (x[..., 1] > 0).long()
    losses = []
    for _ in range(8):
        out = model(x) if task == "cls" else model(x, cat).reshape(-1, 7)
        loss = F.cross_entropy(out, y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=4), "3 \\(xyz\\) or 6"),
    (dict(task="detect"), "task"),
    (dict(task="partseg", num_parts=1), "num_parts"),
    (dict(k=0), "k must be"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("dgcnn", num_classes=3, **kwargs)


def test_bad_inputs():
    model = _make("partseg").eval()
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        model(torch.randn(2, 3, 64), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="category"):
        model(torch.randn(2, 64, 3))
