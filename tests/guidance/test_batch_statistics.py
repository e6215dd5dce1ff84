"""batch_statistics_as_constants: train-mode values, per-sample gradients, nothing left behind."""

import torch
from torch import nn

from reldrop3d.guidance.base import batch_statistics_as_constants


def test_values_match_train_mode_and_running_statistics_stay():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8), nn.ReLU()).train()
    x = torch.randn(4, 3, 10)
    with torch.no_grad():
        reference = net(x)
    running = net[1].running_mean.clone(), net[1].running_var.clone()
    with batch_statistics_as_constants(net):
        out = net(x)
    torch.testing.assert_close(out, reference)
    # the reference forward updated them once; the patched one did not
    assert torch.equal(net[1].running_mean, running[0]) and torch.equal(net[1].running_var, running[1])
    assert "forward" not in vars(net[1])  # the patch is gone


def test_no_gradient_crosses_samples():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8)).train()
    x = torch.randn(4, 3, 10, requires_grad=True)
    with batch_statistics_as_constants(net):
        (g,) = torch.autograd.grad(net(x)[0].sum(), x)
    assert g[1:].abs().max() == 0 and g[0].abs().max() > 0
    (g_train,) = torch.autograd.grad(net(x)[0].sum(), x)  # plain train mode mixes samples
    assert g_train[1:].abs().max() > 0
