"""Reading checkpoints written by ``reldrop3d train`` and rebuilding their model, safely.

A checkpoint is untrusted input: it is read with ``torch.load(..., weights_only=True)``, which
unpickles only tensors and plain Python containers, so no code stored in a file ever runs. Every
problem (missing file, folder, text file, truncated archive, foreign or tampered checkpoint,
weights of another architecture, a model of another task or modality) is one ``ValueError`` /
``FileNotFoundError`` that names the file.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from .registry import MODELS, create_model

META_KEY = "reldrop3d"
#: keys every reldrop3d checkpoint's metadata has
META_REQUIRED = ("model", "model_kwargs", "dataset", "data_kwargs", "classes")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (the message names the file)."""


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict[str, Any]:
    """Load a checkpoint dict without executing anything stored in it.

    Parameters
    ----------
    path : path-like
    map_location : torch map location

    Returns
    -------
    dict with ``state_dict`` and the ``reldrop3d`` metadata (plus Lightning's training state).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        ``path`` is a folder, not a torch checkpoint, truncated, holds pickled Python objects
        (refused: loading them could run code), or is not a reldrop3d checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # raised by the weights-only unpickler for any global it does not allow
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} holds Python objects beyond tensors and plain data; refusing to "
            f"load it, since unpickling them could run code ({first})"
        ) from None
    except Exception as err:  # truncated zip, text file, legacy format errors, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a torch checkpoint ({type(err).__name__}: {first})"
        ) from None
    if not isinstance(ckpt, dict) or META_KEY not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a reldrop3d checkpoint (no '{META_KEY}' metadata)")
    meta = ckpt[META_KEY]
    if not isinstance(meta, dict) or any(k not in meta for k in META_REQUIRED):
        missing = [k for k in META_REQUIRED if not isinstance(meta, dict) or k not in meta]
        raise CheckpointError(f"{path}: the reldrop3d metadata lacks {', '.join(missing)}")
    if not isinstance(ckpt["state_dict"], dict):
        raise CheckpointError(f"{path}: 'state_dict' is not a dict of tensors")
    return ckpt


def checkpoint_modality(meta: dict[str, Any]) -> str:
    """``"images"`` or ``"points"``: what the checkpoint's model takes as input."""
    from ..data import IMAGE_DATASETS

    return "images" if meta.get("dataset") in IMAGE_DATASETS else "points"


def load_model(
    path: str | os.PathLike,
    map_location="cpu",
    task: str | None = None,
    modality: str | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint written by ``reldrop3d train``.

    Parameters
    ----------
    path : path-like
    map_location : torch map location
    task : {"cls", "partseg"}, optional
        Refuse a checkpoint of another task (e.g. a part segmenter where a classifier is needed).
    modality : {"points", "images"}, optional
        Refuse a checkpoint of the other input modality.

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
    have_task = meta.get("task", "cls")
    if task is not None and have_task != task:
        raise CheckpointError(f"checkpoint {path} holds a {have_task} model; a {task} model is needed here")
    have_modality = checkpoint_modality(meta)
    if modality is not None and have_modality != modality:
        raise CheckpointError(
            f"checkpoint {path} holds a model of {have_modality} ({meta['dataset']}); "
            f"a model of {modality} is needed here"
        )
    if meta["model"] not in MODELS:
        raise CheckpointError(
            f"checkpoint {path} names an unknown model {meta['model']!r}; available: "
            f"{', '.join(MODELS.names())}"
        )
    if not isinstance(meta["model_kwargs"], dict):
        raise CheckpointError(f"checkpoint {path}: model_kwargs is not a dict")
    try:
        model = create_model(meta["model"], **meta["model_kwargs"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: cannot build {meta['model']!r} from its "
                              f"arguments ({err})") from None
    prefix = "model."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise CheckpointError(
            f"checkpoint {path}: its weights do not fit a {meta['model']!r} model built from its "
            f"own metadata ({detail[:300]})"
        ) from None
    model.eval()
    return model, meta


__all__ = ["META_KEY", "CheckpointError", "checkpoint_modality", "load_model", "read_checkpoint"]
