"""Protocol options: schedule, order of augmentation and masking, forward mode, validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reldrop3d.data.splits import stratified_holdout
from reldrop3d.data.transforms import official_reldrop_augmentation
from reldrop3d.train.config import TrainConfig
from reldrop3d.train.run import best_and_last, build_datasets, build_task


def tiny(tmp_path, **kw):
    base = dict(data="synthetic", data_kwargs={"num_shapes": 44}, num_points=64, epochs=1,
                batch_size=11, out=str(tmp_path / "run"), progress=False, accelerator="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_stratified_holdout_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(5), [10, 20, 1, 30, 2])
    kept, held = stratified_holdout(labels, 0.1, seed=3)
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == len(labels)
    assert [int((labels[held] == c).sum()) for c in range(5)] == [1, 2, 0, 3, 1]
    assert np.array_equal(held, stratified_holdout(labels, 0.1, seed=3)[1])
    assert not np.array_equal(held, stratified_holdout(labels, 0.1, seed=4)[1])


def test_holdout_validation_comes_from_train_not_test(tmp_path):
    cfg = tiny(tmp_path, val_split="holdout", val_fraction=0.25)
    train_set, val_set = build_datasets(cfg)
    assert len(train_set) + len(val_set) == 44 and len(val_set) >= 11
    base = train_set.base
    assert np.intersect1d(train_set.indices, val_set.indices).size == 0
    assert val_set.base is base and base.split == "train"


def test_auto_uses_a_val_split_where_the_data_set_has_one(tmp_path):
    _, val_set = build_datasets(tiny(tmp_path))
    assert getattr(val_set, "split", None) == "val"


def _lrs(tmp_path, **kw):
    cfg = tiny(tmp_path, **kw)
    task = build_task(cfg, build_datasets(cfg)[0])
    conf = task.configure_optimizers()
    if isinstance(conf, torch.optim.Optimizer):
        return [conf.param_groups[0]["lr"]] * 4
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    out = []
    for _ in range(4):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedulers(tmp_path):
    assert _lrs(tmp_path, scheduler="constant") == [1e-3] * 4
    step = _lrs(tmp_path, scheduler="step", lr_step=2, lr_gamma=0.5)
    assert step == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4])
    cos = _lrs(tmp_path, scheduler="cosine", epochs=4)
    assert cos[0] == pytest.approx(1e-3) and cos[1] < cos[0] and cos[3] < cos[2]


@pytest.mark.parametrize("order", ["mask-first", "augment-first"])
def test_augment_order(tmp_path, order):
    cfg = tiny(tmp_path, augment_order=order, geometric_augment="official")
    train_set, _ = build_datasets(cfg)
    task = build_task(cfg, train_set)
    batch = torch.utils.data.default_collate([train_set[i] for i in range(8)])
    seen = {}
    real_dropout = task.input_dropout

    class Spy:  # records what is explained; everything else is the real InputDropout's
        def __call__(self, model, x, target, category=None, **kw):
            seen["explained"] = x.clone()
            return real_dropout(model, x, target, category, **kw)

        def __getattr__(self, name):
            return getattr(real_dropout, name)

    task.input_dropout = Spy()
    task.train()
    task.training_step(batch, 0)
    clean = batch["points"]
    assert torch.equal(seen["explained"], clean) == (order == "mask-first")


def test_official_augmentation_is_isotropic_scale_then_shift():
    x = torch.randn(4, 50, 6)
    g = torch.Generator().manual_seed(0)
    y = official_reldrop_augmentation(generator=g)(x)
    assert torch.equal(y[..., 3:], x[..., 3:])  # normals untouched
    # y = s * x + t per cloud, one s for all axes
    d = (y[:, 1:, :3] - y[:, :1, :3]) / (x[:, 1:, :3] - x[:, :1, :3])
    s = d.flatten(1)
    assert torch.allclose(s, s[:, :1].expand_as(s), rtol=1e-4)
    assert ((s[:, 0] >= 0.8) & (s[:, 0] <= 1.25)).all()
    t = y[:, :, :3] - s[:, :1, None] * x[:, :, :3]
    assert (t.abs() <= 0.1 + 1e-5).all()


def test_eval_forward_mode_trains_with_the_model_in_eval_mode(tmp_path):
    for mode, expect in (("eval", False), ("train", True)):
        cfg = tiny(tmp_path, forward_mode=mode, augment="none")
        train_set, _ = build_datasets(cfg)
        task = build_task(cfg, train_set)
        modes = []
        task.model.register_forward_pre_hook(lambda m, a, modes=modes: modes.append(m.training))
        batch = torch.utils.data.default_collate([train_set[i] for i in range(8)])
        task.train()
        task.training_step(batch, 0)
        assert modes[-1] is expect


def test_best_and_last():
    hist = [{"epoch": 0, "val_acc": 0.5}, {"epoch": 1, "val_acc": 0.7}, {"epoch": 2, "val_acc": 0.6}]
    out = best_and_last(hist, "val_acc")
    assert out["best"]["epoch"] == 1 and out["last"]["epoch"] == 2
