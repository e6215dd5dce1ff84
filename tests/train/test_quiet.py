"""Quiet logs: Lightning's notices are filtered, non-interactive runs print one line per epoch."""

import re
import warnings

from reldrop3d.train.config import TrainConfig
from reldrop3d.train.quiet import quiet_lightning
from reldrop3d.train.run import train


def test_quiet_lightning_filters_only_the_listed_notices():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_lightning():
            warnings.warn("Experiment logs directory /x exists and is not empty. Previous ...", stacklevel=1)
            warnings.warn("something the user must see", stacklevel=1)
    assert [str(w.message) for w in caught] == ["something the user must see"]


def test_non_interactive_run_prints_one_line_per_epoch(tmp_path, capfd):
    cfg = TrainConfig(data="synthetic", data_kwargs={"num_shapes": {"train": 24, "val": 8, "test": 8}},
                      num_points=64, model="pointnet", augment="reldrop", epochs=2, batch_size=8,
                      out=str(tmp_path / "run"), progress=False, accelerator="cpu", val_split="val")
    train(cfg)
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    epoch_lines = [ln for ln in lines if re.match(r"epoch \d+/2 ", ln)]
    assert len(epoch_lines) == 2
    assert "val_acc" in epoch_lines[0] and "left" in epoch_lines[0] and "left" not in epoch_lines[1]
    # nothing else from Lightning on a normal run
    assert not [ln for ln in lines if ln not in epoch_lines], lines
