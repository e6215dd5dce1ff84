"""Find the linear units of a network: each linear/conv layer plus a BatchNorm right after it.

A *unit* is what LRP treats as one linear map. A BatchNorm that directly follows a linear layer
inside the same ``nn.Sequential`` is merged into it (as zennit's ``SequentialMergeBatchNorm`` does),
so the unit's output is the BatchNorm's output.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class LinearUnit:
    """A linear layer and the module whose output is the unit's pre-activation.

    Attributes
    ----------
    linear_name : str
        Qualified name of the linear/conv module (as in ``named_modules``).
    output_name : str
        ``linear_name``, or the name of the BatchNorm merged into it.
    """

    linear_name: str
    output_name: str


def effective_bias(linear: nn.Module, batchnorm: nn.Module | None = None):
    """Bias (C,) of a linear unit with its BatchNorm merged (eval-mode statistics), or None
    when the unit has neither a bias nor a BatchNorm."""
    bias = linear.bias
    if batchnorm is None:
        return None if bias is None else bias.detach()
    scale = batchnorm.weight / (batchnorm.running_var + batchnorm.eps).sqrt()
    b = bias if bias is not None else 0.0
    return ((b - batchnorm.running_mean) * scale + batchnorm.bias).detach()


def find_linear_units(model: nn.Module) -> list[LinearUnit]:
    """All linear units of ``model`` in module-registration order.

    Models whose conv and BatchNorm live in separate containers can declare the pairs
    themselves with a ``lrp_batchnorm_pairs`` attribute: a tuple of ``(linear_name, bn_name)``.
    """
    modules = dict(model.named_modules())
    declared = dict(getattr(model, "lrp_batchnorm_pairs", ()))
    for lin, bn in declared.items():
        if lin not in modules or bn not in modules:
            raise KeyError(f"lrp_batchnorm_pairs names unknown module {lin!r} or {bn!r}")
    merged: dict[str, str] = dict(declared)
    for name, module in modules.items():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (cname, child), (nname, nxt) in zip(children, children[1:]):
            if isinstance(child, LINEAR_TYPES) and isinstance(nxt, BATCHNORM_TYPES):
                prefix = f"{name}." if name else ""
                merged[prefix + cname] = prefix + nname
    return [
        LinearUnit(name, merged.get(name, name))
        for name, module in modules.items()
        if isinstance(module, LINEAR_TYPES)
    ]
