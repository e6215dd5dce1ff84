"""Model registry: ``create_model(name, **kw)`` (timm style)."""

from __future__ import annotations

from torch import nn

from ..utils.registry import Registry

MODELS = Registry("model")
register_model = MODELS.register


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered model ``name``.

    Common keyword arguments: ``num_classes``, ``in_channels`` (3 for xyz, 6 with normals),
    ``task`` ("cls" or "partseg"), ``num_parts`` (partseg).
    """
    model = MODELS.create(name, **kwargs)
    model.model_name = name
    return model


def list_models() -> list[str]:
    return MODELS.names()
