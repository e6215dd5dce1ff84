"""The front door ``relevance()``: every registered method on every modality it declares."""

import pytest
import torch

import reldrop3d.models.images  # noqa: F401  (registers the image models)
from reldrop3d.explain import (
    METHODS,
    STARTS,
    get_method,
    input_gradient,
    list_composites,
    list_methods,
    register_method,
    relevance,
)
from reldrop3d.models import create_model


def _points_case():
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=4).eval()
    return model, torch.randn(2, 64, 3), torch.tensor([1, 3]), (2, 64)


def _images_case():
    torch.manual_seed(0)
    model = create_model("small_cnn", num_classes=5, in_channels=3, width=4).eval()
    return model, torch.rand(2, 3, 8, 8), torch.tensor([0, 4]), (2, 8, 8)


CASES = {"points": _points_case, "images": _images_case}
PAIRS = [(m, mod) for m in list_methods() for mod in get_method(m).modalities]


def test_every_method_declares_a_known_modality():
    assert set(list_methods()) == set(METHODS.names())
    assert all(set(get_method(m).modalities) <= set(CASES) for m in list_methods())
    assert {mod for _, mod in PAIRS} == set(CASES)


@pytest.mark.parametrize("method,modality", PAIRS)
@pytest.mark.parametrize("start", STARTS)
def test_method_on_modality(method, modality, start):
    model, x, y, shape = CASES[modality]()
    model.train()
    r = relevance(model, x, y, method=method, start=start)
    assert r.shape == shape and torch.isfinite(r).all() and not r.requires_grad
    assert (r.flatten(1).std(1) > 0).all()
    assert model.training and all(m.training for m in model.modules())  # flags restored


def test_unsupported_modality_is_a_clear_error():
    def points_only(model, inputs, target=None, category=None, start="logit"):
        return inputs.sum(-1)

    register_method("_points_only_test", points_only, modalities=("points",))
    try:
        model, x, y, _ = _images_case()
        with pytest.raises(ValueError, match="supports points, not images"):
            relevance(model, x, y, method="_points_only_test")
        pmodel, px, py, _ = _points_case()
        assert relevance(pmodel, px, py, method="_points_only_test").shape == (2, 64)
    finally:
        METHODS._factories.pop("_points_only_test")
    with pytest.raises(ValueError, match="modalities"):
        register_method("_bad", points_only, modalities=("voxels",))


def test_bad_calls_are_clear_errors():
    model, x, y, _ = _points_case()
    with pytest.raises(ValueError, match="unknown relevance method 'nope'"):
        relevance(model, x, y, method="nope")
    with pytest.raises(ValueError, match=r"points \(B, N, C\) or images \(B, C, H, W\)"):
        relevance(model, x[0], y)
    with pytest.raises(ValueError, match="start must be one of"):
        relevance(model, x, y, start="softmax")
    with pytest.raises(ValueError, match="unknown LRP composite 'nope'"):
        relevance(model, x, y, composite="nope")
    with pytest.raises(TypeError, match="fixes"):
        relevance(model, x, y, method="lrp_epsilon", composite="epsilon-flat")
    img_model, xi, yi, _ = _images_case()
    with pytest.raises(ValueError, match="explains images"):
        relevance(img_model, torch.rand(2, 64, 3), yi)


def test_lrp_dispatches_on_declared_properties(monkeypatch):
    """'lrp' takes the fast path unless the model declares a zennit canonizer or the composite is
    not fast-path rules; no error message is parsed."""
    import reldrop3d.explain.methods as methods

    calls = []
    monkeypatch.setattr(methods, "fast_lrp", lambda *a, **k: calls.append("fast") or a[1].sum(-1))
    monkeypatch.setattr(methods, "zennit_relevance", lambda *a, **k: calls.append("zennit") or a[1].sum(-1))
    model, x, y, _ = _points_case()
    relevance(model, x, y)
    relevance(model, x, y, composite="epsilon-plus-flat")
    model.lrp_canonizer = "resnet"
    relevance(model, x, y)
    assert calls == ["fast", "zennit", "zennit"]


@pytest.mark.parametrize("modality", sorted(CASES))
@pytest.mark.parametrize("start", STARTS)
def test_one_gradient_for_both_modalities(modality, start):
    """input_gradient is d(explained quantity)/d(input) for points and images alike."""
    model, x, y, _ = CASES[modality]()
    _, g = input_gradient(model, x, y, start=start)
    xr = x.clone().requires_grad_(True)
    logits = model(xr)
    f = torch.log_softmax(logits, -1) if start == "log_softmax" else logits
    (ref,) = torch.autograd.grad(f.gather(1, y[:, None]).sum(), xr)
    torch.testing.assert_close(g, ref)
    cdim = -1 if modality == "points" else 1
    torch.testing.assert_close(relevance(model, x, y, method="gradient", start=start), ref.norm(dim=cdim))
    torch.testing.assert_close(relevance(model, x, y, method="input_x_gradient", start=start),
                               (x * ref).sum(cdim))


def test_composites_registered():
    assert {"epsilon-flat", "epsilon", "reldrop-official", "reldrop-official-2d"} <= set(list_composites())
