"""LRP rules of the fast path (:mod:`reldrop3d.explain.rules`)."""

import pytest
import torch
from torch import nn

from reldrop3d.explain.rules import _flat_rule_autograd, flat_rule

POINTWISE = [
    (lambda: nn.Conv1d(5, 7, 1), (2, 5, 9), (2, 7, 9)),
    (lambda: nn.Conv2d(5, 7, 1), (2, 5, 4, 3), (2, 7, 4, 3)),
    (lambda: nn.Linear(5, 7), (2, 5), (2, 7)),
]


@pytest.mark.parametrize("make,in_shape,out_shape", POINTWISE)
def test_pointwise_flat_rule_is_the_unit_weight_gradient(make, in_shape, out_shape):
    """The closed form for 1x1 convolutions and linear layers equals the general definition."""
    torch.manual_seed(0)
    module = make().double()
    x = torch.randn(in_shape, dtype=torch.float64)
    r = torch.randn(out_shape, dtype=torch.float64)
    got = flat_rule(module, x, r)
    assert got.shape == x.shape
    torch.testing.assert_close(got, _flat_rule_autograd(module, x, r), rtol=1e-12, atol=1e-15)
    # conservation: every output's relevance is shared out over its 5 inputs (up to the stabiliser)
    torch.testing.assert_close(got.sum(), r.sum() * 5 / (5 + 1e-6), rtol=1e-12, atol=1e-12)


def test_flat_rule_of_a_wider_kernel_counts_each_receptive_field():
    module = nn.Conv1d(2, 3, 3, padding=1).double()
    x = torch.randn(1, 2, 6, dtype=torch.float64)
    r = torch.zeros(1, 3, 6, dtype=torch.float64)
    r[0, 0, 0] = 1.0  # an edge output: its receptive field is 2 channels x 2 positions
    got = flat_rule(module, x, r)
    expected = torch.zeros_like(x)
    expected[0, :, :2] = 1 / (4 + 1e-6)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("with_bias", [False, True])
def test_epsilon_relu_is_the_rule_then_the_relu(with_bias):
    """One fused step backwards = EpsilonScale at z followed by the ReLU's own gradient."""
    from reldrop3d.explain.rules import epsilon_relu, epsilon_scale

    torch.manual_seed(0)
    z = torch.randn(2, 4, 30, dtype=torch.float64)
    z[0, 0, :5] = 0.0  # exact zeros pass nothing either way
    z.requires_grad_(True)
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    g = torch.randn(2, 4, 30, dtype=torch.float64)
    (ref,) = torch.autograd.grad(torch.relu(epsilon_scale(z, 1e-6, bias)), z, g)
    r = torch.relu(z)
    out = epsilon_relu(z, r, 1e-6, bias)
    assert torch.equal(out, r)
    (got,) = torch.autograd.grad(out, z, g)
    torch.testing.assert_close(got, ref, rtol=1e-14, atol=0)
    assert got[z <= 0].abs().max() == 0
