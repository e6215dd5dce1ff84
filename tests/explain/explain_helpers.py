"""Helpers shared by the explain tests (a uniquely named module: ``conftest`` is ambiguous
when several test folders are collected together)."""

import copy

import torch


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


def zero_biases(model):
    """A copy of ``model`` whose effective (BatchNorm-merged) biases are all zero."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)) and m.bias is not None:
                m.bias.zero_()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.zero_()
                m.bias.zero_()
    return model


def tiny_bn_eps(model):
    """BatchNorm eps = 1e-12: zennit's merged BatchNorm is ``x / sqrt(1 + eps)``, not the identity,
    so this gives both LRP paths the same forward pass."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eps = 1e-12
    return model
