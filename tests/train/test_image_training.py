"""The 2D adapter: image models train in the same trainer with the same masking."""

import pytest

from reldrop3d.cli import main
from reldrop3d.train.config import TrainConfig
from reldrop3d.train.run import train


# dropped share per step: the rule at beta = 0.5 drops about half; the official block and
# Random Erasing (random on images) erase one rectangle of 2-40 % of the image, clipped
@pytest.mark.parametrize("augment,mode,rate", [
    ("reldrop", "point", (0.2, 0.8)), ("reldrop", "dropblock", (0.2, 0.8)),
    ("reldrop", "block", (0.01, 0.4)), ("random", "point", (0.01, 0.4)),
])
def test_digits_small_cnn_in_the_trainer(tmp_path, augment, mode, rate):
    cfg = TrainConfig(data="digits", model="small_cnn", augment=augment, mask_mode=mode, epochs=1,
                      batch_size=32, max_steps_per_epoch=8, out=str(tmp_path / "d"),
                      progress=False, accelerator="cpu")
    assert cfg.dataset_kwargs() == {}  # no point-cloud arguments for an image data set
    result = train(cfg)
    assert rate[0] < result["metrics"]["train_drop_rate"] < rate[1]


@pytest.mark.slow
def test_reldrop_training_on_digits_learns(tmp_path, capsys):
    out = tmp_path / "digits"
    rc = main(["train", "--data", "digits", "--model", "small_cnn", "--augment", "reldrop",
               "--epochs", "3", "--no-progress", "--accelerator", "cpu", "--out", str(out)])
    assert rc == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoints" / "last.ckpt")]) == 0
    acc = float(capsys.readouterr().out.split("overall accuracy:")[1].split()[0])
    assert acc > 0.6  # chance is 0.1


@pytest.mark.slow
def test_region_reldrop_on_digits_in_the_trainer_learns(tmp_path):
    """RelDrop on real images through the one trainer: region masks on half the batch drop the
    expected share, and the model still learns (chance is 10 %)."""
    cfg = TrainConfig(data="digits", model="small_cnn", augment="reldrop", mask_mode="region",
                      alpha=0.5, beta=0.25, mask_p=0.5, fill="mean", epochs=4, batch_size=64,
                      lr=5e-3, out=str(tmp_path / "d"), progress=False, accelerator="cpu")
    result = train(cfg)
    # a quarter of the pixels of the masked half of each batch
    assert result["metrics"]["train_drop_rate"] == pytest.approx(0.125, abs=0.04)
    assert result["metrics"]["val_acc"] > 0.6
