import pytest
import torch

from reldrop3d.cli import main
from reldrop3d.train.metrics import PartIoU, part_table, shape_ious
from reldrop3d.train.config import TrainConfig
from reldrop3d.train.run import train


def test_shape_iou_standard_protocol():
    table = part_table(2, 4, {0: [0, 1], 1: [2, 3]})
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 2]])
    logits = torch.full((2, 4, 4), -5.0)
    logits[0, :, 0] = 1.0                     # predicts part 0 everywhere
    logits[1, :, 0] = 9.0                     # part 0 is not a part of category 1: ignored
    logits[1, :, 2] = 1.0
    ious = shape_ious(logits, target, torch.tensor([0, 1]), table)
    # shape 0: part 0 IoU 2/4, part 1 IoU 0 -> 0.25; shape 1: part 2 IoU 1, part 3 absent -> 1
    torch.testing.assert_close(ious, torch.tensor([0.25, 1.0], dtype=torch.float64))
    metric = PartIoU(2, 4, {0: [0, 1], 1: [2, 3]})
    metric.update(logits, target, torch.tensor([0, 1]))
    inst, cls = metric.compute()
    assert inst.item() == pytest.approx(0.625) and cls.item() == pytest.approx(0.625)


def test_partseg_training_and_evaluation(tmp_path, capsys):
    cfg = TrainConfig(
        data="synthetic", data_kwargs={"num_shapes": 44}, num_points=128, task="partseg",
        epochs=1, batch_size=11, out=str(tmp_path / "seg"), progress=False, accelerator="cpu",
    )
    result = train(cfg)
    assert 0.0 <= result["metrics"]["val_instance_miou"] <= 1.0
    capsys.readouterr()
    assert main(["evaluate", result["last_checkpoint"]]) == 0
    out = capsys.readouterr().out
    assert "instance mIoU" in out and "class mIoU" in out
