"""Quiet training logs: Lightning's notices that do not concern a reldrop3d user are filtered,
and non-interactive runs (``progress=False``: ``compare``, CI, log files) print one line per epoch.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings

import lightning as L

#: Lightning/torch messages that are noise for a reldrop3d run (regular expressions on the text)
IGNORED_WARNINGS = (
    # we write metrics.csv into the run folder on purpose (the run directory guard protects it)
    r".*exists and is not empty.*",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*smaller than the logging interval.*",
    r".*does not have many workers.*",
    r".*The '(train|val)_dataloader' does not have many workers.*",
    r".*Checkpoint directory .* exists and is not empty.*",
)
#: loggers whose INFO lines ("GPU available: False ...", "💡 Tip: ...") are not shown
QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero")


@contextlib.contextmanager
def quiet_lightning():
    """Within the block: the :data:`IGNORED_WARNINGS` are not shown and Lightning logs only
    warnings; both are restored afterwards."""
    with warnings.catch_warnings():
        for pattern in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
        try:
            for name in QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class EpochProgressLine(L.Callback):
    """One line per finished epoch (on rank 0): epoch, training loss, validation metrics,
    the epoch's seconds and the estimated time left, e.g.

    ``epoch 3/8  train_loss 0.512  val_acc 0.734  val_macc 0.701  12 s  (about 1 min 00 s left)``

    Parameters
    ----------
    stream : file, default sys.stderr
    prefix : str
        Put before every line (e.g. the variant and seed in ``compare``).
    """

    KEYS = ("train_loss_epoch", "train_drop_rate", "val_loss", "val_acc", "val_macc",
            "val_instance_miou", "val_class_miou")

    def __init__(self, stream=None, prefix: str = ""):
        self.stream = stream
        self.prefix = prefix
        self._start = None
        self._durations: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or self._start is None:
            return
        self._durations.append(time.perf_counter() - self._start)
        self._start = None
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        parts = [f"{self.prefix}epoch {epoch}/{total}"]
        metrics = trainer.callback_metrics
        for key in self.KEYS:
            if key in metrics:
                name = "train_loss" if key == "train_loss_epoch" else key
                parts.append(f"{name} {float(metrics[key]):.4f}")
        parts.append(_format_duration(self._durations[-1]))
        left = total - epoch
        if left > 0:
            mean = sum(self._durations) / len(self._durations)
            parts.append(f"(about {_format_duration(mean * left)} left)")
        print("  ".join(parts), file=self.stream or sys.stderr, flush=True)
