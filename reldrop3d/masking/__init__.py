"""Masking: which input elements to drop and what they become.

``make_masker(mode, fill=..., p=..., **mode_options)(x, relevance) -> (x_masked, mask)`` for
point clouds (B, N, C) and images (B, C, H, W); the modes live in the registry
:data:`MASK_MODES`, each with its own keyword arguments; the defaults in :mod:`.defaults`.

Names are imported on first use, so ``from reldrop3d.masking import defaults`` (used by the
command-line parsers) does not import torch.
"""

from __future__ import annotations

import importlib

# public name -> submodule that defines it (MASK_MODES from api: importing api registers every mode)
_EXPORTS = {
    "MASK_MODES": "api",
    "Masker": "api",
    "make_masker": "api",
    "mask_batch": "api",
    "ErasingBoxes": "erasing",
    "boxes_to_mask": "erasing",
    "erasing_sizes": "erasing",
    "random_erasing_boxes": "erasing",
    "relevance_erasing_boxes": "erasing",
    "relevance_erasing_mask": "erasing",
    "FILLS": "fills",
    "apply_fill": "fills",
    "apply_image_fill": "image",
    "dropblock_mask": "image",
    "grid_patch_mask": "image",
    "pixel_mask": "image",
    "region_image_mask": "image",
    "MaskMode": "modes",
    "register_mode": "modes",
    "greedy_regions": "region",
    "region_point_mask": "region",
    "RandomPointDropout": "reldrop",
    "RelDrop": "reldrop",
    "check_finite": "rules",
    "expected_drop_rate": "rules",
    "minmax_normalize": "rules",
    "random_dropout_mask": "rules",
    "reldrop_mask": "rules",
    "rule_score": "rules",
}

__all__ = sorted([*_EXPORTS, "defaults"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name == "defaults":
        return importlib.import_module(".defaults", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
