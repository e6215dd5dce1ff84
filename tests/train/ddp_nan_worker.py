"""Worker of ``test_ddp.py::test_a_nan_loss_on_one_rank_stops_every_rank`` (run by torchrun, two
processes; not a test module).

Rank 1's loss *value* turns NaN at global step 2 while its gradients stay finite (the NaN is a
detached constant), so the parameters stay finite on both ranks, as when AMP skips a step. Each
rank prints ``rank R diverged: <message>`` and exits 3 when training stops with
:class:`TrainingDiverged`.
"""

from __future__ import annotations

import sys

import lightning as L
import torch

from reldrop3d.train.config import TrainConfig
from reldrop3d.train.guards import TrainingDiverged
from reldrop3d.train.run import train

POISONED_STEP = 2


class NaNLossOnRankOne(L.Callback):
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.global_rank != 1:
            return
        step = pl_module.training_step

        def poisoned(batch, batch_idx):
            out = step(batch, batch_idx)
            if trainer.global_step != POISONED_STEP:
                return out
            loss = out["loss"] if isinstance(out, dict) else out
            nan = loss + torch.tensor(float("nan"))  # value NaN, same gradient
            return {**out, "loss": nan} if isinstance(out, dict) else nan

        pl_module.training_step = poisoned


def main(out: str) -> int:
    cfg = TrainConfig(data="synthetic", data_kwargs={"num_shapes": {"train": 64, "val": 16}},
                      val_split="val", num_points=64, epochs=2, batch_size=8, augment="none",
                      out=out, progress=False, accelerator="cpu", strategy="ddp", devices=2)
    try:
        train(cfg, callbacks=[NaNLossOnRankOne()])
    except TrainingDiverged as err:
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else -1
        print(f"rank {rank} diverged: {err}", flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
