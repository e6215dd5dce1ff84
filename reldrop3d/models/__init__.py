"""Point-cloud (and image) models behind a registry.

Every model takes points as (B, N, C) channels-last tensors and returns logits:
(B, K) for ``task="cls"`` and (B, N, P) for ``task="partseg"`` (which also takes the category
label (B,) for the one-hot input of the segmentation head).
"""

from . import dgcnn, images, pointnet, pointnet2  # noqa: F401  (register models)
from .registry import MODELS, create_model, list_models, register_model

__all__ = ["MODELS", "create_model", "list_models", "register_model"]
