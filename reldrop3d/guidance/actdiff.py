"""ActDiff (Viviano et al., "Saliency is a possible red herring when diagnosing poor
generalization", ICLR 2021): activations must not change when the background is scrambled."""

from __future__ import annotations

import torch
from torch import nn

from ..explain.targets import forward_model
from .base import GuidanceLoss, frozen_batchnorm_stats


def shuffle_background(
    x: torch.Tensor, roi: torch.Tensor, layout: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Permute the background elements of a batch among themselves.

    All background elements of the batch (points with all their channels, or pixels with all
    their channels) are pooled and randomly permuted; ROI elements stay in place.

    Parameters
    ----------
    x : Tensor (B, N, C) or (B, C, H, W)
    roi : BoolTensor (B, N) or (B, H, W)
    layout : {"points", "images"}
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, same shape as ``x``.

    Notes
    -----
    Point-cloud models are permutation invariant, so shuffling *within* a cloud would change
    nothing; pooling over the batch moves background points between clouds (a class-correlated
    blob is then spread over other samples' blob positions). For images this also scrambles the
    background pixels spatially, as Viviano et al. do.
    """
    xe = x if layout == "points" else x.movedim(1, -1)  # (B, ..., C)
    flat = xe.reshape(-1, xe.shape[-1])
    idx = (~roi).reshape(-1).nonzero().squeeze(1)
    perm = torch.randperm(idx.numel(), generator=generator, device="cpu").to(idx.device)
    out = flat.clone()
    out[idx] = flat[idx[perm]]
    out = out.view(xe.shape)
    return out if layout == "points" else out.movedim(-1, 1)


def capture_activation(model: nn.Module, layer: str | None):
    """A context manager capturing one activation per forward: the output of module ``layer``,
    or (``layer=None``) the input of ``model.head`` (or ``model.classifier``), the pooled
    global feature of the registered classifiers. The captured tensors are in ``ctx.values``."""
    modules = dict(model.named_modules())

    class _Capture:
        def __init__(self):
            self.values: list[torch.Tensor] = []
            self.handle = None

        def __enter__(self):
            if layer is None:
                head = getattr(model, "head", None) or getattr(model, "classifier", None)
                if not isinstance(head, nn.Module):
                    raise ValueError(
                        f"{type(model).__name__} has no 'head' or 'classifier' module: pass "
                        "ActDiffLoss(layer=...) naming the layer whose activations are compared"
                    )
                self.handle = head.register_forward_pre_hook(
                    lambda _m, args: self.values.append(args[0])
                )
            else:
                if layer not in modules:
                    raise KeyError(
                        f"ActDiff layer {layer!r} is not a module of {type(model).__name__}"
                    )
                self.handle = modules[layer].register_forward_hook(
                    lambda _m, _a, out: self.values.append(out)
                )
            return self

        def __exit__(self, *exc):
            self.handle.remove()

    return _Capture()


class ActDiffLoss(GuidanceLoss):
    """L2 distance between a layer's activations for ``x`` and for ``x`` with its background
    shuffled (:func:`shuffle_background`).

    ``penalty = 1/B * sum_b || a(x_b) - a(shuffle(x)_b) ||_2``

    Parameters
    ----------
    layer : str, optional
        Module whose output is compared; default: the input of ``model.head`` /
        ``model.classifier`` (the global feature of PointNet / PointNet++ / DGCNN / SmallCNN).
    seed : int, optional
        Seed of the shuffling generator (default: the global torch RNG).
    symmetric : bool
        ``True`` (default): the gradient flows through both branches, as in Viviano et al.'s code
        (``activmask/models/resnet.py``: the shuffled forward runs with grad and
        ``compare_activations`` in ``activmask/models/loss.py`` detaches neither side).
        ``False``: the shuffled branch is a constant target (no grad, detached), so only the
        activations of the original input are pulled towards it; one backward fewer.

    Notes
    -----
    Runs two forwards of its own (the compared layer is usually not the logits); both leave
    BatchNorm running statistics untouched (the trainer's own forward updates them). Viviano et
    al. compare the pre-activations of *every* layer of their CNNs; here one layer is compared
    (``layer``), the global feature by default.
    """

    name = "actdiff"

    def __init__(self, layer: str | None = None, seed: int | None = None, symmetric: bool = True):
        if not isinstance(symmetric, bool):
            raise ValueError(f"ActDiff symmetric must be True or False, got {symmetric!r}")
        self.layer = layer
        self.seed = seed
        self.symmetric = symmetric
        self._gen = torch.Generator().manual_seed(seed) if seed is not None else None

    def penalty(self, model, x, target, roi, layout, logits, category) -> torch.Tensor:
        x = x.detach()
        shuffled = shuffle_background(x, roi, layout, self._gen)
        with capture_activation(model, self.layer) as cap, frozen_batchnorm_stats(model):
            with torch.set_grad_enabled(self.symmetric):
                forward_model(model, shuffled, category)
            with torch.enable_grad():
                forward_model(model, x, category)
        ref, act = cap.values[0], cap.values[-1]
        if not self.symmetric:
            ref = ref.detach()
        diff = (act - ref).flatten(1)
        return diff.norm(dim=1).mean()
