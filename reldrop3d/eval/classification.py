"""Overall accuracy and mean class accuracy of a classifier on a data set."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data import batch_to_input


@torch.no_grad()
def predict(
    model: nn.Module, dataset: Dataset, batch_size: int = 32, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true labels over a whole data set, each (M,) int64."""
    model.eval().to(device)
    preds, labels = [], []
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = batch_to_input(batch).to(device)
        preds.append(model(x).argmax(-1).cpu())
        labels.append(batch["label"])
    return torch.cat(preds), torch.cat(labels)


def accuracy_scores(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Overall accuracy and mean class accuracy (classes absent from ``label`` are skipped).

    Parameters
    ----------
    pred, label : Tensor (M,) int64
    num_classes : int
    """
    correct = (pred == label).double()
    per_class = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, label, correct)
    count = torch.bincount(label, minlength=num_classes).double()
    present = count > 0
    return {
        "accuracy": correct.mean().item(),
        "mean_class_accuracy": (per_class[present] / count[present]).mean().item(),
        "num_samples": int(label.numel()),
    }


def evaluate_classifier(
    model: nn.Module, dataset, batch_size: int = 32, device: str | torch.device = "cpu"
) -> dict[str, float]:
    """Overall accuracy and mean class accuracy of ``model`` on ``dataset``."""
    pred, label = predict(model, dataset, batch_size, device)
    return accuracy_scores(pred, label, dataset.num_classes)
