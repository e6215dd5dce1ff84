import pytest
import torch

from reldrop3d.models import create_model
from reldrop3d.models.attribution import attribution_mode, is_attributing
from reldrop3d.models.pointnet import feature_transform_regularizer


def test_parameter_counts_match_the_paper():
    # PointNet classifier: ~0.8M without T-Nets, ~3.5M with both (Qi et al. report 3.5M)
    n = sum(p.numel() for p in create_model("pointnet", num_classes=40).parameters())
    nt = sum(p.numel() for p in create_model("pointnet_tnet", num_classes=40).parameters())
    assert 0.75e6 < n < 0.9e6
    assert 3.4e6 < nt < 3.6e6


def test_tnets_start_as_identity():
    model = create_model("pointnet_tnet", num_classes=3).eval()
    x = torch.randn(2, 64, 3)
    t = model.encoder.input_tnet(x.transpose(1, 2))
    torch.testing.assert_close(t, torch.eye(3).expand(2, 3, 3))


def test_feature_transform_regulariser():
    eye = torch.eye(4).expand(3, 4, 4)
    assert feature_transform_regularizer(eye).item() == pytest.approx(0.0)
    assert feature_transform_regularizer(2 * eye).item() > 0
    model = create_model("pointnet_tnet", num_classes=3)
    model(torch.randn(2, 32, 3))
    assert model.aux_loss.requires_grad


def test_attribution_mode_detaches_transform():
    model = create_model("pointnet_tnet", num_classes=3).eval()
    x = torch.randn(2, 32, 3)
    with attribution_mode():
        assert is_attributing()
        model(x)[:, 0].sum().backward()
    assert not is_attributing()
    assert all(p.grad is None for p in model.encoder.input_tnet.parameters())
    model(x)[:, 0].sum().backward()
    assert any(p.grad is not None for p in model.encoder.input_tnet.parameters())


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=4), "3 \\(xyz\\) or 6"),
    (dict(task="detect"), "task"),
    (dict(task="partseg", num_parts=1), "num_parts"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("pointnet", num_classes=3, **kwargs)


def test_wrong_input_shape_is_reported():
    model = create_model("pointnet", num_classes=3)
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        model(torch.randn(2, 3, 64))


def test_partseg_needs_category():
    model = create_model("pointnet", num_classes=3, task="partseg", num_parts=4)
    with pytest.raises(ValueError, match="category"):
        model(torch.randn(2, 32, 3))
