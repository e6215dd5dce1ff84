"""Opening what the viewer and ``reldrop3d render`` show: checkpoints + a data set, or files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..masking import defaults
from .explainer import Explainer
from .scene import ViewerState
from .sources import DatasetSource, FileSource


def open_session(
    checkpoints: Sequence = (),
    files: Sequence = (),
    data: str | None = None,
    split: str = "test",
    data_kwargs: dict | None = None,
    method: str = "lrp",
    alpha: float = defaults.ALPHA,
    beta: float = defaults.BETA,
    seed: int = 0,
) -> ViewerState:
    """Build a :class:`ViewerState` from checkpoints and a data set or point-cloud files.

    Parameters
    ----------
    checkpoints : up to two paths
        Written by ``reldrop3d train``; two are shown side by side (they must share classes).
    files : paths
        Point-cloud files to show instead of a data set.
    data : str, optional
        Data set name (default: the first checkpoint's).
    split : str
    data_kwargs : dict, optional
        Overrides of the data-set arguments (default: the first checkpoint's).
    method, alpha, beta, seed
        Relevance method and the RelDrop rule whose mask is shown.
    """
    if len(checkpoints) > 2:
        raise ValueError(f"at most two checkpoints side by side, got {len(checkpoints)}")
    if not checkpoints and not files and data is None:
        raise ValueError("nothing to show: give a checkpoint, a data set or point-cloud files")
    explainers, metas = [], []
    if checkpoints:
        from ..models.checkpoint import load_model

        for ck in checkpoints:
            model, meta = load_model(ck, map_location="cpu")
            explainers.append(Explainer(model, name=Path(ck).stem if len(checkpoints) == 1
                                        else f"{Path(ck).parent.name}/{Path(ck).stem}",
                                        method=method, alpha=alpha, beta=beta, seed=seed))
            metas.append(meta)
        if len(metas) == 2 and metas[0]["classes"] != metas[1]["classes"]:
            raise ValueError(
                f"{checkpoints[0]} and {checkpoints[1]} were trained on different classes"
            )
    meta = metas[0] if metas else {}
    classes = meta.get("classes")
    use_normals = bool(meta.get("use_normals", False))
    if files:
        source = FileSource(files, with_normals=use_normals, num_points=meta.get("num_points"))
    else:
        from ..data import create_dataset

        name = data or meta.get("dataset")
        kwargs = dict(meta.get("data_kwargs", {})) if name == meta.get("dataset") else {}
        kwargs.update(data_kwargs or {})
        source = DatasetSource(create_dataset(name, split, **kwargs))
        if classes is not None and source.classes and source.classes != list(classes):
            raise ValueError(f"data set {name!r} has other classes than the checkpoint")
    return ViewerState(source, explainers, classes=classes)
