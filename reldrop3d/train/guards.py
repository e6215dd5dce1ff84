"""Checks that stop a training run rather than let it produce a silently wrong result.

* :func:`finite_guard`: a non-finite loss or parameter stops training at the step it appears
  (:class:`TrainingDiverged`), before a checkpoint of the broken model is written;
* :func:`check_batch_size`: a global batch larger than the training set is refused (the sampler
  would repeat samples to fill it);
* :func:`check_data_root_used`: ``--data-root`` for a data set that reads nothing from disk is
  refused rather than ignored;
* :func:`finite_or_none`: results with NaN / inf replaced by None, so that they print as valid
  JSON.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class TrainingDiverged(ValueError):
    """The loss or the parameters became NaN / inf (the message names epoch, step and a remedy)."""


def _first_non_finite(module: torch.nn.Module) -> str | None:
    params = [(n, p) for n, p in module.named_parameters()]
    if not params:
        return None
    ok = torch.stack([torch.isfinite(p).all() for _, p in params])
    if bool(ok.all()):  # one synchronisation per step
        return None
    return params[int((~ok).nonzero()[0])][0]


def _on_any_process(trainer, flag: bool) -> bool:
    """``flag`` or'ed over the processes of a distributed run (one all-reduce); ``flag`` alone in
    a single process."""
    strategy = getattr(trainer, "strategy", None)
    if strategy is None or getattr(trainer, "world_size", 1) <= 1:
        return flag
    return bool(strategy.reduce_boolean_decision(flag, all=False))


def check_finite_step(trainer, pl_module, loss, batch_idx: int) -> None:
    """Raise :class:`TrainingDiverged` if ``loss`` or a parameter of ``pl_module`` is not finite
    (the message names epoch, batch, step, the learning rate and the last checkpoint)."""
    bad_loss = isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all())
    bad_param = _first_non_finite(pl_module)
    # under DDP every process must stop at the same step, also when only one process's loss is
    # not finite (e.g. AMP skipped the step, so the parameters stayed finite): otherwise the
    # others wait in their next collective until the process group's timeout
    if not _on_any_process(trainer, bool(bad_loss or bad_param)):
        return
    what = []
    if bad_loss:
        what.append(f"the loss is {float(loss.detach().float().mean())}")
    if bad_param:
        what.append(f"parameter {bad_param} holds NaN/inf values")
    if not what:
        what.append("the loss or the parameters are not finite on another process")
    lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
    last = [cb.best_model_path for cb in trainer.checkpoint_callbacks
            if getattr(cb, "filename", None) == "last" and cb.best_model_path]
    saved = (f"the last checkpoint, of an earlier epoch, is {last[0]}" if last
             else "no checkpoint was written")
    raise TrainingDiverged(
        f"training diverged at epoch {trainer.current_epoch}, batch {batch_idx} (global step "
        f"{trainer.global_step}): {' and '.join(what)}; lower --lr (now {lr:g}) or check the "
        f"data and the loss weights; {saved}")


def finite_guard():
    """A Lightning callback that calls :func:`check_finite_step` after every training step.

    Checked after the optimiser step, before the epoch's checkpoints are written: those on disk
    are of earlier, finite epochs. Under DDP the decision is or'ed over the processes (one small
    all-reduce per step), so all of them stop at the same step even when only one saw a
    non-finite loss. (Built on demand: importing lightning costs seconds.)
    """
    import lightning as L

    class FiniteGuard(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            check_finite_step(trainer, pl_module, loss, batch_idx)

    return FiniteGuard()


def check_batch_size(batch_size: int, world_size: int, num_train: int, where: str) -> None:
    """Refuse a global batch (``batch_size * world_size``) larger than the training set.

    Raises
    ------
    ValueError
        Naming both sizes and ``where`` (the training data).
    """
    if batch_size * world_size <= num_train:
        return
    per = f" ({world_size} processes x {batch_size})" if world_size > 1 else ""
    raise ValueError(
        f"--batch-size {batch_size}{per} is larger than the training set ({num_train} samples of "
        f"{where}); one batch would repeat samples. Use --batch-size <= {num_train // world_size}"
        f" or more training data")


def check_data_root_used(dataset, data_root: str | None, name: str) -> None:
    """Refuse ``--data-root`` for a data set that reads no folder (e.g. ``synthetic``).

    Data sets read from disk record their folder as ``root``; generated ones have none.
    """
    if data_root is not None and getattr(dataset, "root", None) is None:
        raise ValueError(
            f"--data-root {data_root}: the data set {name!r} is generated, not read from a "
            f"folder; leave --data-root out")


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every non-finite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


__all__ = ["TrainingDiverged", "check_finite_step", "finite_guard", "check_batch_size", "check_data_root_used",
           "finite_or_none"]
