"""Checks every registered model (timm style): shapes, LRP declarations, learning."""

import pytest
import torch
import torch.nn.functional as F

from reldrop3d.models import create_model, list_models

MODELS = [m for m in list_models() if m.startswith(("pointnet", "dgcnn"))]  # point models


def _make(name, task="cls", in_channels=3):
    torch.manual_seed(0)
    if task == "partseg":
        return create_model(name, num_classes=4, in_channels=in_channels, task="partseg", num_parts=7)
    return create_model(name, num_classes=5, in_channels=in_channels)


def test_registry_lists_models_and_rejects_unknown():
    assert "pointnet" in MODELS
    with pytest.raises(KeyError, match="unknown model"):
        create_model("no_such_model")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("in_channels", [3, 6])
def test_classifier_output_shape(name, in_channels):
    model = _make(name, in_channels=in_channels).eval()
    x = torch.randn(2, 256, in_channels)
    with torch.no_grad():
        assert model(x).shape == (2, 5)


@pytest.mark.parametrize("name", MODELS)
def test_partseg_output_shape(name):
    model = _make(name, task="partseg").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 256, 3), torch.tensor([0, 3]))
    assert out.shape == (2, 256, 7)


@pytest.mark.parametrize("name", MODELS)
def test_declares_lrp_input_layers(name):
    model = _make(name)
    modules = dict(model.named_modules())
    assert model.lrp_input_layers and all(n in modules for n in model.lrp_input_layers)
    for unit, pool in getattr(model, "lrp_deferred_units", {}).items():
        assert unit in modules and pool in modules


@pytest.mark.parametrize("name", MODELS)
def test_eval_mode_is_deterministic(name):
    model = _make(name).eval()
    x = torch.randn(2, 256, 3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))


@pytest.mark.parametrize("name", MODELS)
def test_loss_falls_in_a_few_steps(name):
    from reldrop3d.data import batch_to_input, create_dataset

    ds = create_dataset("synthetic", "train", num_points=128, num_shapes=32)
    batch = torch.utils.data.default_collate([ds[i] for i in range(8)])
    x, y = batch_to_input(batch), batch["label"]
    kw = {"num_centroids": (64, 16)} if name.startswith("pointnet2") else {}
    model = create_model(name, num_classes=ds.num_classes, **kw)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7
