"""Right for the Right Reasons (Ross, Hughes & Doshi-Velez, IJCAI 2017)."""

from __future__ import annotations

import torch

from .base import GuidanceLoss, channel_sum, forward_with_input_grad, input_grad


class RRRLoss(GuidanceLoss):
    """Squared input gradient of the summed log-probabilities, over the background.

    ``penalty = 1/B * sum_b sum_{i not in ROI} sum_c (d/dx_{b,i,c} sum_k log softmax(f(x_b))_k)^2``
    (Ross et al.'s "annotation" term with A = not ROI; their lambda is the trainer's weight).

    Notes
    -----
    Costs one double-backward. For part segmenters the log-probabilities of every point are summed.
    """

    name = "rrr"
    needs_input_grad = True

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        x, logits = forward_with_input_grad(model, x, logits, category)
        g = input_grad(torch.log_softmax(logits, dim=-1), x)
        per_element = channel_sum(g.square(), layout)
        return (per_element * ~roi).sum() / x.shape[0]
