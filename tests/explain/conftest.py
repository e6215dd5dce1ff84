import pytest
import torch

from reldrop3d.data import batch_to_input, create_dataset
from reldrop3d.models import create_model


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
