"""Text reports for ``reldrop3d evaluate``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..data import batch_to_input
from ..train.metrics import PartIoU
from .classification import evaluate_classifier


@torch.no_grad()
def evaluate_segmenter(model, meta: dict, dataset, batch_size: int = 16) -> dict[str, float]:
    """Instance mIoU, class mIoU and point accuracy of a part segmenter."""
    model.eval()
    metric = PartIoU(dataset.num_classes, dataset.num_parts, dataset.parts_of_class)
    correct = total = 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        x = batch_to_input(batch)
        logits = model(x, batch["label"])
        metric.update(logits, batch["parts"], batch["label"])
        correct += (logits.argmax(-1) == batch["parts"]).sum().item()
        total += batch["parts"].numel()
    inst, cls = metric.compute()
    return {"instance_miou": inst.item(), "class_miou": cls.item(), "point_accuracy": correct / max(total, 1)}


def evaluate_checkpoint_report(
    model,
    meta: dict,
    dataset,
    *,
    checkpoint: str,
    split: str = "test",
    batch_size: int = 32,
    device: str = "cpu",
    occlusion_out: str | Path | None = None,
    relevance_method: str = "lrp",
) -> str:
    """Evaluate ``model`` on ``dataset`` and format the metrics as text.

    Parameters
    ----------
    model, meta
        As returned by :func:`reldrop3d.models.checkpoint.load_model`.
    dataset : the split to evaluate
    checkpoint : str
        Path of the checkpoint (printed in the report).
    split : str
        Name of the split (printed).
    batch_size, device
    occlusion_out : path, optional
        When given (classifiers only), also write occlusion curves (CSV + PNG) into this folder
        with ``relevance_method``.
    """
    lines = [f"checkpoint: {checkpoint}", f"data: {meta['dataset']} ({split}, {len(dataset)} samples)"]
    if meta.get("task", "cls") == "partseg":
        scores = evaluate_segmenter(model, meta, dataset, batch_size)
        lines += [f"instance mIoU:        {scores['instance_miou']:.4f}",
                  f"class mIoU:           {scores['class_miou']:.4f}",
                  f"point accuracy:       {scores['point_accuracy']:.4f}"]
        return "\n".join(lines)
    scores = evaluate_classifier(model, dataset, batch_size, device)
    lines += [f"overall accuracy:     {scores['accuracy']:.4f}",
              f"mean class accuracy:  {scores['mean_class_accuracy']:.4f}"]
    if occlusion_out is not None:
        from .occlusion_report import write_occlusion_report

        lines.append(write_occlusion_report(model, dataset, Path(occlusion_out),
                                            method=relevance_method, batch_size=batch_size,
                                            device=device))
    return "\n".join(lines)
