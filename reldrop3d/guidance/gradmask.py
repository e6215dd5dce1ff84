"""GradMask (Simpson, Viviano et al., "GradMask", 2019): input-gradient saliency off the ROI."""

from __future__ import annotations

import torch

from .base import GuidanceLoss, channel_sum, forward_with_input_grad, input_grad


def class_margin(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Target logit minus the log-sum-exp of the other logits.

    For two classes this is ``y_t - y_other``, i.e. ``+-(y0 - y1)``: GradMask's contrast. For K
    classes it is the log-odds of the target class, the smooth multi-class generalisation.

    Parameters
    ----------
    logits : Tensor (B, K) or (B, N, P)
    target : LongTensor (B,) or (B, N)

    Returns
    -------
    Tensor (B,) or (B, N)
    """
    t = target.unsqueeze(-1)
    own = logits.gather(-1, t).squeeze(-1)
    others = logits.scatter(-1, t, float("-inf"))
    return own - torch.logsumexp(others, dim=-1)


class GradMaskLoss(GuidanceLoss):
    """L1 norm of ``d |margin| / dx`` over the background.

    ``penalty = 1/B * sum_b sum_{i not in ROI} sum_c |d |m(x_b)| / dx_{b,i,c}|`` with ``m`` the
    target-class margin of :func:`class_margin` (binary: ``|y0 - y1|``, as in the paper).
    ``|d|m|/dx| = |dm/dx|``, so the sign of the margin does not matter.
    """

    name = "gradmask"
    needs_input_grad = True

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        x, logits = forward_with_input_grad(model, x, logits, category)
        g = input_grad(class_margin(logits, target), x)
        per_element = channel_sum(g.abs(), layout)
        return (per_element * ~roi).sum() / x.shape[0]
