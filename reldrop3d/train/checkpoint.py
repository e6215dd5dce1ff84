"""Checkpoints: atomic writes, and loading a trained model with what it was trained on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..models import create_model

META_KEY = "reldrop3d"


def atomic_checkpoint_io():
    """Lightning checkpoint I/O that writes to a temporary file and renames it into place, so an
    interrupted save never corrupts the previous checkpoint. (Built on demand: importing
    lightning costs seconds, and loading a model for a viewer does not need it.)"""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ..utils.io import atomic_path

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)

    return AtomicCheckpointIO()


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict[str, Any]:
    """Load a checkpoint dict, with a clear error for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # truncated zip, pickle errors, ...
        raise ValueError(f"checkpoint {path} is corrupt or not a torch checkpoint: {err}") from err
    if not isinstance(ckpt, dict) or META_KEY not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a reldrop3d checkpoint (no '{META_KEY}' metadata)")
    return ckpt


def load_model(path: str | os.PathLike, map_location="cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint written by ``reldrop3d train``.

    Returns
    -------
    model : nn.Module
        In eval mode, on ``map_location``.
    meta : dict
        ``model``, ``model_kwargs``, ``dataset``, ``data_kwargs``, ``classes``, ``num_points``,
        ``use_normals``, ``task`` and the training ``config``.
    """
    ckpt = read_checkpoint(path, map_location)
    meta = ckpt[META_KEY]
    model = create_model(meta["model"], **meta["model_kwargs"])
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    model.load_state_dict(state)
    model.eval()
    return model, meta
