"""The one training-step loss (reldrop3d.train.loss), shared by the trainer and the bias experiment."""

import pytest
import torch
import torch.nn.functional as F

from reldrop3d.guidance import create_guidance
from reldrop3d.models import create_model
from reldrop3d.train.loss import AUX_LOSS_WEIGHT, task_loss, training_loss


def test_task_loss_is_cross_entropy_plus_weighted_aux():
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=3, feature_transform=True).train()
    x, y = torch.randn(4, 32, 3), torch.tensor([0, 2, 1, 1])
    logits = model(x)
    assert model.aux_loss.requires_grad
    expected = F.cross_entropy(logits, y) + AUX_LOSS_WEIGHT * model.aux_loss
    torch.testing.assert_close(task_loss(model, logits, y), expected)


def test_task_loss_segmentation_is_per_point_cross_entropy():
    logits, target = torch.randn(2, 5, 4), torch.randint(0, 4, (2, 5))
    expected = F.cross_entropy(logits.reshape(-1, 4), target.reshape(-1))
    torch.testing.assert_close(task_loss(torch.nn.Identity(), logits, target), expected)


def test_training_loss_adds_weighted_penalty_and_reuses_logits():
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=3).eval()
    x, y = torch.randn(2, 16, 3), torch.tensor([0, 2])
    roi = torch.rand(2, 16) > 0.5
    energy = create_guidance("energy")
    plain = training_loss(model, x, y)
    assert plain.penalty is None
    torch.testing.assert_close(plain.loss, F.cross_entropy(model(x), y))
    guided = training_loss(model, x, y, roi=roi, guidance=energy, guidance_weight=2.0)
    torch.testing.assert_close(guided.penalty, energy(model, x, y, roi))
    torch.testing.assert_close(guided.loss, plain.loss + 2.0 * guided.penalty)
    torch.testing.assert_close(guided.logits, plain.logits)


def test_training_loss_guidance_without_roi_is_an_error():
    model = create_model("pointnet", num_classes=3).eval()
    with pytest.raises(ValueError, match="region-of-interest"):
        training_loss(model, torch.randn(2, 16, 3), torch.tensor([0, 1]),
                      guidance=create_guidance("energy"))
