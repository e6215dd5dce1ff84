"""Lightning checkpoint I/O: atomic writes and weights-only reads.

Reading a checkpoint and rebuilding its model lives in :mod:`reldrop3d.models.checkpoint`.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models.checkpoint import read_checkpoint


def atomic_checkpoint_io():
    """Lightning checkpoint I/O that writes to a temporary file and renames it into place, so an
    interrupted save never corrupts the previous checkpoint, and that reads (``--resume``) with
    :func:`~reldrop3d.models.checkpoint.read_checkpoint`: weights only, nothing in the file runs.
    (Built on demand: importing lightning costs seconds, and loading a model for a viewer does not
    need it.)"""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ..utils.io import atomic_path

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)

        def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict[str, Any]:
            return read_checkpoint(path, map_location=map_location or "cpu")

    return AtomicCheckpointIO()
