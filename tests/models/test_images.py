"""Image models in the registry and their pixel relevance (the 2D adapter)."""

from __future__ import annotations

import pytest
import torch

import reldrop3d.models.images  # noqa: F401  (registers the image models)
from reldrop3d.explain import LRPConfig, list_methods, relevance
from reldrop3d.models import create_model


@pytest.mark.parametrize("name, size", [("small_cnn", 8), ("resnet18", 32)])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_forward_shapes(name, size, in_channels):
    model = create_model(name, num_classes=7, in_channels=in_channels).eval()
    out = model(torch.rand(2, in_channels, size, size))
    assert out.shape == (2, 7) and model.input_kind == "image"


def test_small_cnn_bad_input():
    model = create_model("small_cnn", num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match="expected images"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="positive"):
        create_model("small_cnn", num_classes=0)


def _zero_biases(model):
    for m in model.modules():
        if getattr(m, "bias", None) is not None:
            torch.nn.init.zeros_(m.bias)
    return model


@pytest.mark.parametrize("method", list_methods("images"))
def test_relevance_shapes_finite(method):
    model = create_model("small_cnn", num_classes=10, in_channels=1, width=4)
    x = torch.rand(3, 1, 8, 8)
    model.train()
    r = relevance(model, x, torch.tensor([0, 1, 2]), method=method)
    assert r.shape == (3, 8, 8) and torch.isfinite(r).all() and r.abs().sum() > 0
    assert model.training  # flags restored


def test_small_cnn_lrp_conserves_and_matches_zennit():
    torch.manual_seed(0)
    model = _zero_biases(create_model("small_cnn", num_classes=10, in_channels=1, width=4)).eval()
    x = torch.rand(4, 1, 8, 8)
    target = torch.tensor([0, 3, 5, 9])
    cfg = LRPConfig(zero_bias=True, input_rule="epsilon", epsilon=1e-9)
    fast = relevance(model, x, target, method="lrp", composite=cfg)
    ref = relevance(model, x, target, method="lrp_zennit", composite=cfg)
    logits = model(x).gather(1, target[:, None]).squeeze(1)
    assert torch.allclose(fast, ref, atol=1e-5)
    assert torch.allclose(fast.sum((1, 2)), logits.detach(), rtol=1e-3, atol=1e-4)


def test_resnet18_lrp_with_canonizer():
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=5, in_channels=1).eval()
    assert model.lrp_canonizer == "resnet"
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        before = model(x)
    r = relevance(model, x, torch.tensor([1, 4]))
    assert r.shape == (2, 32, 32) and torch.isfinite(r).all() and r.abs().sum() > 0
    # the canonizer is removed afterwards: the plain forward pass is unchanged
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)


def test_bad_method_and_shape():
    model = create_model("small_cnn", num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match="unknown relevance method"):
        relevance(model, torch.rand(1, 1, 8, 8), method="nope")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        relevance(model, torch.rand(1, 8, 8))
