"""BatchNorm merging of the fast LRP path (:mod:`reldrop3d.explain.units`)."""

import pytest
import torch
from explain_helpers import randomise_batchnorm
from torch import nn

from reldrop3d.explain.units import batchnorm_merged, effective_bias, find_linear_units


def _block(dim=1, bias=True):
    conv = (nn.Conv1d if dim == 1 else nn.Conv2d)(4, 6, 1, bias=bias)
    bn = (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)(6)
    return randomise_batchnorm(nn.Sequential(conv, bn, nn.ReLU())).double().eval()


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_merged_unit_has_the_batchnorm_output(dim, bias):
    model = _block(dim, bias)
    x = torch.randn(3, 4, *([5] * dim), dtype=torch.float64)
    ref = model(x)
    with batchnorm_merged(model, find_linear_units(model)) as merged:
        assert sorted(merged) == ["0.bias", "0.weight"]
        out = torch.func.functional_call(model, merged, (x,), strict=False)
        # the BatchNorm itself is the identity inside the context
        torch.testing.assert_close(model[1](ref), ref)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(merged["0.bias"], effective_bias(model[0], model[1]))
    assert "forward" not in vars(model[1])  # restored
    torch.testing.assert_close(model(x), ref)
    assert not torch.allclose(model[1](ref), ref)  # and a BatchNorm again outside


def test_training_mode_batchnorm_is_left_alone():
    model = _block().train()
    with batchnorm_merged(model, find_linear_units(model)) as merged:
        assert merged == {}
        assert "forward" not in vars(model[1])


def test_restored_after_an_error():
    model = _block()
    with pytest.raises(RuntimeError, match="boom"), batchnorm_merged(model, find_linear_units(model)):
        raise RuntimeError("boom")
    assert "forward" not in vars(model[1])


def test_differentiable_merge_gives_the_parameter_gradients():
    model = _block()
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    ref = torch.autograd.grad(model(x).square().sum(), list(model.parameters()))
    with batchnorm_merged(model, find_linear_units(model), differentiable=True) as merged:
        out = torch.func.functional_call(model, merged, (x,), strict=False)
        got = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)
    with batchnorm_merged(model, find_linear_units(model)) as merged:
        assert not any(t.requires_grad for t in merged.values())
