"""Random streams of a training run that do not depend on its history, so a resumed run is exact.

At the start of every training epoch :class:`EpochSeeding` seeds, from ``(seed, epoch, rank)``
alone,

* torch's global generator (CPU and every CUDA device: geometric augmentation, dropout layers),
* numpy's and Python's global generators,
* the input-dropout generator (:attr:`reldrop3d.train.input_dropout.InputDropout.generator`:
  which samples are masked, RelDrop's ``u`` draws, random fills), a stream of its own.

The batch order of epoch ``e`` is a function of ``(seed, e)`` as well
(:class:`reldrop3d.train.samplers.GlobalBatchSampler`). Epoch ``e`` of a run resumed from the
checkpoint of epoch ``e - 1`` therefore draws exactly what an uninterrupted run draws.
Checkpoints are written at epoch ends only, and they also record the generators' states at the
time of saving (:func:`rng_state`, as tensors and plain numbers, loadable with
``torch.load(weights_only=True)``), which a resume restores.

Data-loader worker processes (``--num-workers``) draw nothing: the data sets are deterministic per
index.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


def epoch_seeds(seed: int, epoch: int, rank: int = 0) -> dict[str, int]:
    """Independent seeds of every stream for one epoch of one process.

    Returns
    -------
    dict with ``torch`` (63 bits), ``numpy`` (32 bits), ``python`` and ``input_dropout`` seeds,
    from ``numpy.random.SeedSequence([seed, epoch, rank])``.
    """
    w = [int(v) for v in np.random.SeedSequence([seed, epoch, rank]).generate_state(6, np.uint32)]
    return {"torch": (w[0] << 31) ^ w[1], "numpy": w[2], "python": w[3],
            "input_dropout": (w[4] << 31) ^ w[5]}


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """The states of torch's (CPU, CUDA), numpy's and Python's global generators and of
    ``generator``, as tensors and plain numbers."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": py_version, "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss": py_gauss},
        "generator": None if generator is None else generator.get_state(),
    }
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` recorded (CUDA states only where CUDA is available)."""
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"].cpu())


class EpochSeeding(L.Callback):
    """Seeds every random stream of the run at each training epoch start (see the module).

    Parameters
    ----------
    seed : int
        The run's seed.
    input_dropout : InputDropout, optional
        Gets a generator of its own on the model's device, re-seeded every epoch.
    """

    def __init__(self, seed: int, input_dropout=None):
        self.seed = int(seed)
        self.input_dropout = input_dropout

    @property
    def _generator(self) -> torch.Generator | None:
        return getattr(self.input_dropout, "generator", None)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        seeds = epoch_seeds(self.seed, trainer.current_epoch, trainer.global_rank)
        torch.manual_seed(seeds["torch"])  # all devices
        np.random.seed(seeds["numpy"])
        random.seed(seeds["python"])
        if self.input_dropout is not None:
            gen = self._generator
            if gen is None or gen.device != pl_module.device:
                gen = torch.Generator(device=pl_module.device)
                self.input_dropout.generator = gen
            gen.manual_seed(seeds["input_dropout"])

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "rng": rng_state(self._generator)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        set_rng_state(state_dict["rng"], self._generator)


__all__ = ["EpochSeeding", "epoch_seeds", "rng_state", "set_rng_state"]
