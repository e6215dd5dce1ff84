"""Part-segmentation metrics with the standard ShapeNetPart protocol.

Predictions are restricted to the parts of the shape's category (argmax over those logits only).
A shape's IoU is the mean over its category's parts of ``|pred ∩ gt| / |pred ∪ gt|``, counting a
part absent from both as IoU 1. Instance mIoU averages over shapes; class mIoU averages the
per-category means.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric


def part_table(num_classes: int, num_parts: int, parts_of_class: dict[int, list[int]]) -> torch.Tensor:
    """BoolTensor (num_classes, num_parts): which parts belong to which category
    (all parts for categories missing from ``parts_of_class``)."""
    table = torch.zeros(num_classes, num_parts, dtype=torch.bool)
    for c in range(num_classes):
        parts = parts_of_class.get(c, parts_of_class.get(str(c)))
        if parts:
            table[c, list(parts)] = True
        else:
            table[c] = True
    return table


def shape_ious(
    logits: torch.Tensor, target: torch.Tensor, category: torch.Tensor, table: torch.Tensor
) -> torch.Tensor:
    """Per-shape mIoU (B,) from logits (B, N, P), part labels (B, N) and categories (B,).

    Points labelled ``-1`` (e.g. points added by a corruption) are ignored: they count neither
    as prediction nor as ground truth of any part.
    """
    allowed = table.to(logits.device)[category]  # (B, P)
    pred = logits.masked_fill(~allowed[:, None, :], float("-inf")).argmax(-1)
    p = logits.shape[-1]
    valid = (target >= 0).unsqueeze(-1)
    pred_oh = torch.nn.functional.one_hot(pred, p).bool() & valid
    tgt_oh = torch.nn.functional.one_hot(target.clamp(min=0), p).bool() & valid
    inter = (pred_oh & tgt_oh).sum(1).double()
    union = (pred_oh | tgt_oh).sum(1).double()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return (iou * allowed).sum(1) / allowed.sum(1)


class PartIoU(Metric):
    """Instance and class mIoU, accumulated over batches (sums are all-reduced under DDP).

    ``update(logits (B, N, P), target (B, N), category (B,))``; ``compute() -> (instance, class)``.
    """

    full_state_update = False

    def __init__(self, num_classes: int, num_parts: int, parts_of_class: dict[int, list[int]]):
        super().__init__()
        self.register_buffer("table", part_table(num_classes, num_parts, parts_of_class), persistent=False)
        self.add_state("iou_sum", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor, category: torch.Tensor) -> None:
        ious = shape_ious(logits.detach(), target, category, self.table)
        self.iou_sum.index_add_(0, category, ious)
        self.count.index_add_(0, category, torch.ones_like(ious))

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        present = self.count > 0
        instance = self.iou_sum.sum() / self.count.sum().clamp(min=1)
        per_class = self.iou_sum[present] / self.count[present]
        return instance.float(), per_class.mean().float()
