"""Robustness benchmark (ModelNet-C corruptions): the metrics on hand-made numbers, error rates of
models with known behaviour, the cache (shared, fingerprinted, atomic), part segmentation with
labels that follow the points, the reports, the command and bad input."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from reldrop3d.cli import main
from reldrop3d.data import DataError, create_dataset
from reldrop3d.data.corruptions import (
    CORRUPTIONS,
    DROPOUT_GLOBAL_RATE,
    DROPOUT_LOCAL_POINTS,
    register_corruption,
)
from reldrop3d.eval.robustness import (
    CleanSet,
    RobustnessError,
    RobustnessReport,
    RobustnessResult,
    ce,
    clean_test_set,
    corrupted_arrays,
    corruption_cache_path,
    corruption_errors,
    evaluate_robustness,
    markdown_report,
    mce,
    rce,
    relative_mce,
    score_corruptions,
    write_robustness_report,
)
from reldrop3d.models import create_model
from reldrop3d.models.checkpoint import CheckpointError
from reldrop3d.train.metrics import PartIoU, part_table

ALL = ["scale", "jitter", "rotate", "dropout_global", "dropout_local", "add_global", "add_local"]


# -- the metrics on hand-made numbers ------------------------------------------------------------


def result_with_errors(clean_error, errors, m=20, label="m"):
    """A RobustnessResult whose errors are exactly the given ones (m shapes, multiples of 1/m)."""

    def row(e):
        wrong = round(e * m)
        assert math.isclose(wrong / m, e)
        return np.r_[np.zeros(wrong), np.ones(m - wrong)]

    scores = {c: np.stack([row(e) for e in es]) for c, es in errors.items()}
    return RobustnessResult(label, "cls", row(clean_error), scores, tuple(range(1, 6)))


def test_ce_and_rce_follow_the_modelnet_c_definitions():
    model = result_with_errors(0.10, {"a": [0.10, 0.20, 0.30, 0.40, 0.50],
                                      "b": [0.10, 0.10, 0.15, 0.15, 0.25]})
    ref = result_with_errors(0.05, {"a": [0.05, 0.10, 0.20, 0.20, 0.45],
                                    "b": [0.20, 0.20, 0.30, 0.30, 0.50]})
    assert model.errors("a") == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert model.error("a") == pytest.approx(0.3)
    # CE_c = sum_s E_cs / sum_s E^ref_cs
    assert ce(model, ref, "a") == pytest.approx(1.5 / 1.0)
    assert ce(model, ref, "b") == pytest.approx(0.75 / 1.5)
    # RCE_c = sum_s (E_cs - E_clean) / sum_s (E^ref_cs - E^ref_clean)
    assert rce(model, ref, "a") == pytest.approx((1.5 - 5 * 0.10) / (1.0 - 5 * 0.05))
    assert rce(model, ref, "b") == pytest.approx((0.75 - 0.5) / (1.5 - 0.25))
    assert mce(model, ref) == pytest.approx((1.5 + 0.5) / 2)
    assert relative_mce(model, ref) == pytest.approx((1.0 / 0.75 + 0.25 / 1.25) / 2)
    assert model.mean_error() == pytest.approx((0.3 + 0.15) / 2)
    # the reference against itself: CE = RCE = 1
    assert mce(ref, ref) == pytest.approx(1) and relative_mce(ref, ref) == pytest.approx(1)
    # the dicts of corruption_errors work the same way
    assert mce(model.as_dict(), ref.as_dict()) == pytest.approx(mce(model, ref))
    assert RobustnessResult.from_dict(json.loads(json.dumps(model.as_dict()))).errors("b") == \
        pytest.approx(model.errors("b"))


def test_undefined_ratios_are_nan_not_dropped():
    model = result_with_errors(0.1, {"a": [0.2] * 5, "b": [0.3] * 5})
    ref = result_with_errors(0.0, {"a": [0.0] * 5, "b": [0.2] * 5})
    assert math.isnan(ce(model, ref, "a")) and math.isnan(rce(model, ref, "a"))
    assert ce(model, ref, "b") == pytest.approx(1.5)
    assert math.isnan(mce(model, ref)) and math.isnan(relative_mce(model, ref))
    report = RobustnessReport(model, ref, "x", 20, 1024, 0, "error rate (1 - OA)")
    md = markdown_report(report)
    assert "| a |" in md and "n/a" in md and "undefined" in md


def test_ce_refuses_mismatched_results():
    model = result_with_errors(0.1, {"a": [0.2] * 5})
    other = result_with_errors(0.1, {"b": [0.2] * 5})
    with pytest.raises(RobustnessError, match="'a'"):
        ce(model, other, "a")


# -- models with known behaviour -----------------------------------------------------------------


class NeedsPoints(nn.Module):
    """Classifies by the sign of the mean x (class 1: x > 0) when the cloud has at least
    ``threshold`` points; below that it predicts the other class. Records its calls."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold
        self.calls = []

    def forward(self, x):
        self.calls.append((x.shape, self.training, torch.is_inference_mode_enabled()))
        cls = (x[..., 0].mean(1) > 0).long()
        if x.shape[1] < self.threshold:
            cls = 1 - cls
        return nn.functional.one_hot(cls, 2).float()


def halves(m=16, n=1024, seed=0, flip=4):
    """Clouds with x in [0.3, 1] (class 1) or [-1, -0.3] (class 0); the first ``flip`` shapes
    are labelled with the other class (wrong on the clean set)."""
    g = torch.Generator().manual_seed(seed)
    side = torch.arange(m) % 2
    pts = torch.rand(m, n, 3, generator=g) * 0.4 - 0.2
    pts[..., 0] = (0.3 + 0.7 * torch.rand(m, n, generator=g)) * (2 * side - 1).unsqueeze(1).float()
    labels = side.clone()
    labels[:flip] = 1 - labels[:flip]
    return CleanSet(pts, None, labels, name=f"halves{seed}")


def test_error_rates_of_a_model_that_needs_enough_points(tmp_path):
    clean = halves()
    names = ["jitter", "dropout_global", "dropout_local", "add_global"]
    models = {"t700": NeedsPoints(700), "t500": NeedsPoints(500)}
    res = score_corruptions(models, "cls", clean, names, cache_dir=tmp_path)
    kept_global = [int(1024 * (1 - r)) for r in DROPOUT_GLOBAL_RATE]  # 768 640 512 384 256
    kept_local = [1024 - k for k in DROPOUT_LOCAL_POINTS]  # 924 ... 524
    for key, t in (("t700", 700), ("t500", 500)):
        r = res[key]
        assert r.clean_error == pytest.approx(0.25)  # 4 of 16 labelled against their side
        assert r.errors("dropout_global") == pytest.approx([0.25 if k >= t else 0.75
                                                             for k in kept_global])
        assert r.errors("dropout_local") == pytest.approx([0.25 if k >= t else 0.75
                                                            for k in kept_local])
        assert r.errors("jitter") == pytest.approx([0.25] * 5)
        assert r.errors("add_global") == pytest.approx([0.25] * 5)
    a, b = res["t700"], res["t500"]
    assert a.errors("dropout_global") == pytest.approx([0.25, 0.75, 0.75, 0.75, 0.75])
    assert b.errors("dropout_global") == pytest.approx([0.25, 0.25, 0.25, 0.75, 0.75])
    assert ce(a, b, "dropout_global") == pytest.approx(3.25 / 2.25)
    assert rce(a, b, "dropout_global") == pytest.approx(2.0 / 1.0)
    assert ce(a, b, "dropout_local") == pytest.approx(2.25 / 1.25)
    assert math.isnan(rce(a, b, "dropout_local"))  # the reference is not hurt by it
    assert ce(a, b, "jitter") == pytest.approx(1.0)


def test_inference_is_batched_in_eval_mode_and_independent_of_the_batch_size(tmp_path):
    clean = halves(m=10)
    model = NeedsPoints(700).train()
    r7 = score_corruptions({"m": model}, "cls", clean, ["dropout_global"], [1, 4], batch_size=7,
                           cache_dir=tmp_path)["m"]
    shapes = [c[0] for c in model.calls]
    assert [s[0] for s in shapes] == [7, 3] * 3  # clean, s1, s4: batches of 7 and 3
    assert [s[1] for s in shapes] == [1024, 1024, 768, 768, 384, 384]
    assert all(not training and inference for _, training, inference in model.calls)
    assert model.training  # put back as it was
    r64 = score_corruptions({"m": model}, "cls", clean, ["dropout_global"], [1, 4], batch_size=64,
                            cache_dir=tmp_path)["m"]
    np.testing.assert_array_equal(r7.scores["dropout_global"], r64.scores["dropout_global"])


# -- the cache -----------------------------------------------------------------------------------


def test_two_models_are_scored_on_identical_cached_clouds(tmp_path):
    clean = halves(m=6)
    first = corruption_errors(NeedsPoints(700), {"task": "cls"}, clean=clean,
                              corruptions=["dropout_local", "add_local"], cache_dir=tmp_path)
    assert first["timing"]["generated"] == 10 and first["timing"]["cached"] == 0
    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 10
    stamps = {f: f.stat().st_mtime_ns for f in files}
    arrays = {f: dict(np.load(f)) for f in files}
    second = corruption_errors(NeedsPoints(500), {"task": "cls"}, clean=clean,
                               corruptions=["dropout_local", "add_local"], cache_dir=tmp_path)
    assert second["timing"]["cached"] == 10 and second["timing"]["generated"] == 0
    assert sorted(tmp_path.rglob("*.npz")) == files
    assert {f: f.stat().st_mtime_ns for f in files} == stamps  # read, not rewritten
    for f in files:  # the clouds read back are the ones generated, point for point
        again = corrupted_arrays(clean, f.name.split("-s")[0], int(f.name.split("-s")[1][0]),
                                 cache_dir=tmp_path, use_cache=False)
        np.testing.assert_array_equal(again["points"], arrays[f]["points"])
        np.testing.assert_array_equal(again["source"], arrays[f]["source"])
    assert second["errors"]["dropout_local"] != first["errors"]["dropout_local"]


def test_cache_key_changes_with_seed_clean_set_and_corruption(tmp_path):
    clean = halves(m=4)
    p = corruption_cache_path(clean, "jitter", 2, 0, tmp_path)
    assert p != corruption_cache_path(clean, "jitter", 2, 1, tmp_path)  # seed
    assert p != corruption_cache_path(clean, "jitter", 3, 0, tmp_path)  # severity
    assert p != corruption_cache_path(clean, "scale", 2, 0, tmp_path)
    assert p != corruption_cache_path(halves(m=4, seed=1), "jitter", 2, 0, tmp_path)  # clouds
    assert p != corruption_cache_path(clean.head(3), "jitter", 2, 0, tmp_path)
    a0 = corrupted_arrays(clean, "jitter", 2, 0, tmp_path)
    a1 = corrupted_arrays(clean, "jitter", 2, 1, tmp_path)
    assert len(list(tmp_path.rglob("*.npz"))) == 2
    assert not np.array_equal(a0["points"], a1["points"])
    # deterministic per seed, with or without the cache
    np.testing.assert_array_equal(a0["points"],
                                  corrupted_arrays(clean, "jitter", 2, 0, use_cache=False)["points"])


def test_cache_is_atomic_and_a_bad_file_is_regenerated(tmp_path, monkeypatch):
    clean = halves(m=4)
    path = corruption_cache_path(clean, "dropout_global", 3, 0, tmp_path)
    import reldrop3d.eval.robustness as rob

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rob, "corrupt", boom)
    with pytest.raises(KeyboardInterrupt):
        corrupted_arrays(clean, "dropout_global", 3, 0, tmp_path)
    assert not path.exists() and not any(p.is_file() for p in tmp_path.rglob("*"))
    monkeypatch.undo()
    good = corrupted_arrays(clean, "dropout_global", 3, 0, tmp_path)
    path.write_bytes(b"truncated")  # a damaged file is regenerated, identically
    again = corrupted_arrays(clean, "dropout_global", 3, 0, tmp_path)
    np.testing.assert_array_equal(good["points"], again["points"])
    assert np.load(path)["points"].shape == good["points"].shape


# -- part segmentation ---------------------------------------------------------------------------


class SideSegmenter(nn.Module):
    """Part 1 where x > 0, part 0 elsewhere (category-independent)."""

    def forward(self, x, category):
        part = (x[..., 0] > 0).long()
        return nn.functional.one_hot(part, 2).float()


def two_part_clouds(m=6, n=1024, seed=0):
    """Mirror-symmetric clouds (so re-centring keeps the side of every point): the first half of
    every cloud on x < -0.3 with part 0, the second half mirrored to x > 0.3 with part 1."""
    g = torch.Generator().manual_seed(seed)
    half = torch.rand(m, n // 2, 3, generator=g) * 2 - 1
    half[..., 0] = -(0.3 + 0.7 * torch.rand(m, n // 2, generator=g))
    other = half * torch.tensor([-1.0, 1.0, 1.0])
    pts = torch.cat([half, other], 1) / 2
    parts = torch.cat([torch.zeros(m, n // 2), torch.ones(m, n // 2)], 1).long()
    table = part_table(1, 2, {0: [0, 1]})
    return CleanSet(pts, None, torch.zeros(m, dtype=torch.long), parts, table, f"parts{seed}")


def test_partseg_labels_follow_the_points(tmp_path):
    clean = two_part_clouds()
    out = corruption_errors(SideSegmenter(), {"task": "partseg"}, clean=clean,
                            corruptions=["scale", "jitter", "dropout_global", "dropout_local",
                                         "add_global", "add_local"], cache_dir=tmp_path)
    assert out["metric"] == "1 - instance mIoU" and out["clean_error"] == 0
    # every kept point keeps its label, so the per-point model stays perfect; the added points
    # (predicted as whatever side they fall on) carry the ignore label and do not count
    for name, errs in out["errors"].items():
        assert errs == pytest.approx([0.0] * 5, abs=1e-12), name


def test_partseg_added_points_are_ignored_and_dropped_labels_go(tmp_path):
    clean = two_part_clouds(m=4)
    src = torch.from_numpy(corrupted_arrays(clean, "add_global", 5, cache_dir=tmp_path)["source"])
    assert (src[:, 1024:] == -1).all() and src.shape[1] == 1074
    # a model that is wrong exactly on the added points is still perfect
    n = 1024

    class WrongOnAdded(nn.Module):
        def forward(self, x, category):
            part = (x[..., 0] > 0).long()
            part[:, n:] = 1 - part[:, n:]
            return nn.functional.one_hot(part, 2).float()

    out = corruption_errors(WrongOnAdded(), {"task": "partseg"}, clean=clean,
                            corruptions=["add_global", "add_local"], cache_dir=tmp_path)
    assert out["errors"]["add_global"] == pytest.approx([0.0] * 5)
    # a model wrong on some original points is not
    class WrongOnFirst(nn.Module):
        def forward(self, x, category):
            part = (x[..., 0] > 0).long()
            part[:, :100] = 1 - part[:, :100]
            return nn.functional.one_hot(part, 2).float()

    bad = corruption_errors(WrongOnFirst(), {"task": "partseg"}, clean=clean,
                            corruptions=["add_global"], cache_dir=tmp_path)
    assert min(bad["errors"]["add_global"]) > 0.05


def test_partseg_checkpoint_cannot_take_a_classification_only_corruption(tmp_path):
    @register_corruption("_cls_only", "nothing", (0,) * 5, supports_labels=False)
    def _ident(points, severity, gen, normals=None):
        raise AssertionError("must not run")

    try:
        with pytest.raises(RobustnessError, match="part segmenter.*_cls_only.*--corruptions"):
            corruption_errors(SideSegmenter(), {"task": "partseg"}, clean=two_part_clouds(m=2),
                              corruptions=["jitter", "_cls_only"], cache_dir=tmp_path)
    finally:
        CORRUPTIONS._factories.pop("_cls_only")


# -- checkpoints, the command and the reports ----------------------------------------------------

DATA_KW = {"num_shapes": 12, "num_points": 128}


def save_checkpoint(path, task="cls", seed=0, data_kw=DATA_KW):
    ds = create_dataset("synthetic", "test", **data_kw)
    torch.manual_seed(seed)
    kwargs = dict(num_classes=len(ds.classes), in_channels=3)
    if task == "partseg":
        kwargs.update(task="partseg", num_parts=ds.num_parts)
    model = create_model("pointnet", **kwargs)
    meta = dict(model="pointnet", model_kwargs=kwargs, dataset="synthetic", data_kwargs=data_kw,
                classes=list(ds.classes), num_points=data_kw["num_points"], use_normals=False,
                task=task, num_parts=ds.num_parts, parts_of_class=ds.parts_of_class)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"reldrop3d": meta, "state_dict": {f"model.{k}": v
                                                   for k, v in model.state_dict().items()}}, path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpts")
    return {"a": save_checkpoint(d / "a.ckpt", seed=0), "b": save_checkpoint(d / "b.ckpt", seed=1),
            "seg": save_checkpoint(d / "seg.ckpt", task="partseg", seed=2)}


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_command_writes_reports_that_hold_the_numbers(tmp_path, ckpts, capsys):
    cache, out = tmp_path / "cache", tmp_path / "out"
    rc = main(["robustness", str(ckpts["a"]), "--reference", str(ckpts["b"]), "--num-shapes", "8",
               "--cache-dir", str(cache), "--out", str(out), "--corruptions", "jitter",
               "dropout_global", "add_local", "--severities", "1", "3", "5"])
    assert rc == 0
    text = capsys.readouterr()
    assert "mCE:" in text.out and "relative mCE:" in text.out and "corrupted sets" in text.err
    assert "9 generated, 0 from the cache" in text.out
    data = json.loads((out / "robustness.json").read_text())
    report = evaluate_robustness(ckpts["a"], ckpts["b"], ["jitter", "dropout_global", "add_local"],
                                 [1, 3, 5], num_shapes=8, cache_dir=cache)
    assert report.timing["cached"] == 9 and report.timing["generated"] == 0
    m, ref = report.model, report.reference
    assert data["model"]["errors"]["jitter"] == pytest.approx(m.errors("jitter"))
    if not math.isnan(mce(m, ref)):
        assert data["mCE"] == pytest.approx(mce(m, ref))
    rows = read_csv(out / "robustness.csv")
    assert len(rows) == 2 * (1 + 3 * 3)
    for row in rows:
        r = m if row["role"] == "model" else ref
        want = r.clean_error if row["corruption"] == "clean" else \
            r.errors(row["corruption"])[[1, 3, 5].index(int(row["severity"]))]
        assert float(row["error"]) == pytest.approx(want, abs=1e-6)
    summary = {r["corruption"]: r for r in read_csv(out / "robustness_summary.csv")}
    for c in ("jitter", "dropout_global", "add_local"):
        assert float(summary[c]["error"]) == pytest.approx(m.error(c), abs=1e-6)
        if not math.isnan(ce(m, ref, c)):
            assert float(summary[c]["CE"]) == pytest.approx(ce(m, ref, c), abs=1e-6)
    assert float(summary["mean"]["error"]) == pytest.approx(m.mean_error(), abs=1e-6)
    md = (out / "robustness.md").read_text()
    assert f"| dropout_global | {m.errors('dropout_global')[0]:.4f} |" in md
    assert "8 shapes x 1024 points" in md
    png = (out / "robustness.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_without_reference_raw_errors_and_a_statement(tmp_path, ckpts):
    report = evaluate_robustness(ckpts["a"], corruptions=["rotate"], severities=[2],
                                 num_shapes=4, cache_dir=tmp_path)
    md = write_robustness_report(report, tmp_path / "out")
    assert "raw errors only, no CE / mCE" in md and "mCE:" not in md
    assert "CE" not in read_csv(tmp_path / "out" / "robustness_summary.csv")[0]
    assert json.loads((tmp_path / "out" / "robustness.json").read_text())["reference"] is None


def test_clean_set_is_rebuilt_at_1024_points(ckpts):
    from reldrop3d.models.checkpoint import read_checkpoint

    meta = read_checkpoint(ckpts["a"])["reldrop3d"]
    clean = clean_test_set(meta)
    assert clean.points.shape == (12, 1024, 3) and clean.parts is None
    same = create_dataset("synthetic", "test", num_shapes=12, num_points=1024)
    torch.testing.assert_close(clean.points, same.points)
    assert clean.fingerprint == clean_test_set(meta).fingerprint
    assert clean.fingerprint != clean_test_set(meta, num_points=600).fingerprint


def test_partseg_checkpoint_reports_one_minus_instance_miou(tmp_path, ckpts):
    report = evaluate_robustness(ckpts["seg"], corruptions=ALL, severities=[5], num_shapes=6,
                                 cache_dir=tmp_path)
    assert report.metric == "1 - instance mIoU" and report.model.task == "partseg"
    from reldrop3d.models.checkpoint import load_model

    model, meta = load_model(ckpts["seg"])
    ds = create_dataset("synthetic", "test", num_shapes=12, num_points=1024)
    metric = PartIoU(ds.num_classes, ds.num_parts, ds.parts_of_class)
    with torch.no_grad():
        metric.update(model(ds.points[:6], ds.labels()[:6]), ds.parts[:6], ds.labels()[:6])
    assert report.model.clean_error == pytest.approx(1 - metric.compute()[0].item(), abs=1e-5)
    assert set(report.model.corruptions) == set(ALL)


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_gives_clear_value_errors(tmp_path, ckpts):
    with pytest.raises(ValueError, match=r"unknown corruption\(s\) 'fog'"):
        evaluate_robustness(ckpts["a"], corruptions=["jitter", "fog"], cache_dir=tmp_path)
    with pytest.raises(CheckpointError, match="--reference.*missing.ckpt.*not found"):
        evaluate_robustness(ckpts["a"], reference=tmp_path / "missing.ckpt", cache_dir=tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint .*nope.ckpt.*not found"):
        evaluate_robustness(tmp_path / "nope.ckpt", cache_dir=tmp_path)
    with pytest.raises(CheckpointError, match="partseg model.*cls model"):
        evaluate_robustness(ckpts["a"], reference=ckpts["seg"], cache_dir=tmp_path)
    with pytest.raises(RobustnessError, match="severities"):
        evaluate_robustness(ckpts["a"], severities=[0, 6], cache_dir=tmp_path)
    with pytest.raises(RobustnessError, match="dropout_local.*500.*--num-points"):
        evaluate_robustness(ckpts["a"], num_points=500, cache_dir=tmp_path)
    with pytest.raises(DataError, match="'valid' split of 'synthetic'.*unknown split"):
        evaluate_robustness(ckpts["a"], split="valid", corruptions=["jitter"], cache_dir=tmp_path)
    with pytest.raises(RobustnessError, match="num_shapes"):
        evaluate_robustness(ckpts["a"], corruptions=["jitter"], num_shapes=0, cache_dir=tmp_path)
    for err in (RobustnessError, DataError, CheckpointError):
        assert issubclass(err, ValueError)


def test_a_data_set_without_a_test_split(tmp_path):
    """A ModelNet folder with only training files: the error names the split and the folder."""
    root = tmp_path / "modelnet40_normal_resampled"
    (root / "chair").mkdir(parents=True)
    (root / "modelnet40_shape_names.txt").write_text("chair\n")
    (root / "modelnet40_train.txt").write_text("chair_0001\n")
    np.savetxt(root / "chair" / "chair_0001.txt", np.random.rand(1100, 6), delimiter=",")
    meta = {"dataset": "modelnet40", "data_kwargs": {"root": str(root)}, "classes": ["chair"],
            "task": "cls"}
    with pytest.raises(DataError, match=r"'test' split of 'modelnet40'.*modelnet40_normal_resampled"):
        clean_test_set(meta)


def test_bad_clean_arrays():
    with pytest.raises(DataError, match="NaN"):
        CleanSet(torch.full((2, 8, 3), float("nan")), None, torch.zeros(2, dtype=torch.long))
    with pytest.raises(DataError, match="labels"):
        CleanSet(torch.zeros(2, 8, 3), None, torch.zeros(3, dtype=torch.long))
    with pytest.raises(DataError, match=r"\(M >= 1, N, 3\)"):
        CleanSet(torch.zeros(2, 8, 2), None, torch.zeros(2, dtype=torch.long))
