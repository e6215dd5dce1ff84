import pytest
import torch

from reldrop3d.data import batch_to_input, create_dataset
from reldrop3d.models import create_model


def randomise_batchnorm(model, seed=0):
    """Non-trivial BatchNorm statistics and affine parameters (a fresh model has identity BNs)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)
    return model


@pytest.fixture(scope="session")
def trained_pointnet():
    """PointNet trained briefly on the synthetic data (a few seconds), with a test batch."""
    torch.manual_seed(0)
    train = create_dataset("synthetic", "train", num_points=256, num_shapes=320)
    test = create_dataset("synthetic", "test", num_points=256, num_shapes=32)
    model = create_model("pointnet", num_classes=train.num_classes)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    model.train()
    for _ in range(3):
        for batch in loader:
            loss = torch.nn.functional.cross_entropy(model(batch_to_input(batch)), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    batch = next(iter(torch.utils.data.DataLoader(test, batch_size=16)))
    return model, batch_to_input(batch), batch["label"]
