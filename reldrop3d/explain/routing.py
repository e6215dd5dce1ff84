"""Map relevance at a model's input layers back to its input points."""

from __future__ import annotations

import torch

from .targets import channel_dim


def store_input(store: dict[str, torch.Tensor], name: str):
    """A forward pre-hook that keeps the module's first input as ``store[name]``.

    Registered on an input layer, it records the tensor whose relevance is routed back to the
    points (:func:`relevance_to_points`).
    """

    def pre_hook(_module, args):
        store[name] = args[0]

    return pre_hook


def store_output(store: dict[str, torch.Tensor], name: str):
    """A forward hook that keeps the module's output as ``store[name]`` (e.g. where the point
    channels of a layer with mixed inputs enter)."""

    def hook(_module, _args, out):
        store[name] = out

    return hook


def relevance_to_points(
    model, inputs: dict[str, torch.Tensor], relevance: dict[str, torch.Tensor], points: torch.Tensor
) -> torch.Tensor:
    """Per-point relevance (B, N) from the relevance of the input layers' inputs.

    Parameters
    ----------
    model : nn.Module
        May define ``relevance_to_points(relevance, points) -> (B, N)`` to route itself.
    inputs, relevance : dict of str to Tensor
        Input tensor of each input layer and its relevance (same shapes), e.g. (B, C, N).
    points : Tensor (B, N, C) or images (B, C, H, W)
        The model input; must require grad for the generic routing.

    Returns
    -------
    Tensor (B, N) (or (B, H, W)): the routed relevance summed over the input channels.

    Notes
    -----
    When an input layer sees one column per point ((B, C, N), as in PointNet), a point's relevance
    is the sum over its channels. Otherwise (grouped neighbourhoods (B, C, S, K), edge features)
    relevance is routed through the gathers that built the layer input, as zennit does: each copy
    of a point hands its relevance back to that point (the gradient of a gather is a scatter-add).
    Coordinates that are subtracted (neighbourhood centres) must be detached by the model in
    attribution mode, so that they receive nothing.
    """
    custom = getattr(model, "relevance_to_points", None)
    if callable(custom):
        return custom(relevance, points)
    b, n = points.shape[:2]
    if points.dim() == 3 and all(x.dim() == 3 and x.shape[0] == b and x.shape[2] == n for x in inputs.values()):
        return sum(r.sum(dim=1) for r in relevance.values())
    names = list(inputs)
    routed = torch.autograd.grad(
        [inputs[k] for k in names], points, [relevance[k] for k in names], retain_graph=True
    )[0]
    return routed.sum(dim=channel_dim(points))
