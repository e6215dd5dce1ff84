"""ModelNet40 / ModelNet10 on the real samples and on generated folders in all three formats."""

from __future__ import annotations

import dataclasses
import logging
import shutil

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from reldrop3d.data import DataError, create_dataset
from reldrop3d.data.modelnet import MODELNET40_CLASSES, locate
from reldrop3d.data.transforms import normalize_unit_sphere
from reldrop3d.ops import farthest_point_sample

NORMAL = "modelnet40_normal_resampled"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the tests that load the (read-only) shared samples."""
    return tmp_path_factory.mktemp("shared_cache")


def _load(root, split="train", cache_dir=None, name="modelnet40", **kw):
    return create_dataset(name, split, root=root, cache_dir=cache_dir, **kw)


def _raw(path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", dtype=np.float32)


# -- the real normal_resampled samples -----------------------------------------------------------
def test_shared_samples_give_all_40_classes(shared_data, shared_cache):
    root = shared_data / NORMAL
    train = _load(root, cache_dir=shared_cache, format="normal")
    test = _load(root, "test", cache_dir=shared_cache, format="normal")
    assert (len(train), len(test)) == (39, 23)
    assert train.classes == MODELNET40_CLASSES == (root / "modelnet40_shape_names.txt"
                                                   ).read_text().split()
    assert train.num_classes == 40 and "door" in train.classes
    assert train.classes.index("door") not in train.labels().tolist()
    for ds in (train, test):
        for i, sid in enumerate(ds.shape_ids):
            assert ds.classes[int(ds[i]["label"])] == sid.rsplit("_", 1)[0]
    s = train[0]
    assert set(s) == {"points", "label", "index"} and s["points"].shape == (1024, 3)
    assert s["points"].dtype == torch.float32 and s["label"].dtype == torch.long


def test_first_sampling_is_the_first_rows_normalised(shared_data, shared_cache):
    ds = _load(shared_data / NORMAL, cache_dir=shared_cache, format="normal", num_points=512,
               use_normals=True)
    raw = _raw(shared_data / NORMAL / "airplane" / f"{ds.shape_ids[0]}.txt")
    want = normalize_unit_sphere(torch.from_numpy(raw[:512, :3]))
    torch.testing.assert_close(ds[0]["points"], want)
    torch.testing.assert_close(ds[0]["normals"], torch.from_numpy(raw[:512, 3:]))
    assert ds.points.norm(dim=-1).amax(1).sub(1).abs().max() < 1e-5


def test_fps_sampling_matches_the_ops_fps(shared_data, shared_cache):
    ds = _load(shared_data / NORMAL, "test", cache_dir=shared_cache, format="normal",
               num_points=256, sampling="fps", use_normals=True)
    sid = ds.shape_ids[3]
    raw = torch.from_numpy(_raw(shared_data / NORMAL / sid.rsplit("_", 1)[0] / f"{sid}.txt"))
    idx = farthest_point_sample(raw[None, :, :3], 256)[0]
    assert idx.unique().numel() == 256
    torch.testing.assert_close(ds[3]["points"], normalize_unit_sphere(raw[idx, :3]))
    torch.testing.assert_close(ds[3]["normals"], raw[idx, 3:])


def test_random_sampling_is_seeded_and_distinct(shared_data, cache_dir):
    kw = dict(cache_dir=cache_dir, format="normal", num_points=128, sampling="random")
    a = _load(shared_data / NORMAL, "test", seed=1, **kw)
    b = _load(shared_data / NORMAL, "test", seed=1, cache_dir=False, format="normal",
              num_points=128, sampling="random")
    c = _load(shared_data / NORMAL, "test", seed=2, **kw)
    torch.testing.assert_close(a.points, b.points)
    assert not torch.equal(a.points, c.points)
    assert torch.unique(a.points[0], dim=0).shape[0] == 128


def test_collates_into_batches(shared_data, shared_cache):
    ds = _load(shared_data / NORMAL, "test", cache_dir=shared_cache, format="normal", num_points=64,
               use_normals=True)
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert batch["points"].shape == (8, 64, 3) and batch["normals"].shape == (8, 64, 3)
    assert batch["label"].shape == (8,) and batch["index"].tolist() == list(range(8))
    assert ds.in_channels == 6 and ds[-1]["index"].item() == len(ds) - 1
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_training_config_builds_the_shared_samples(shared_data, shared_cache):
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.run import build_datasets

    cfg = TrainConfig(data="modelnet40", data_root=str(shared_data / NORMAL), num_points=256,
                      data_kwargs={"format": "normal", "cache_dir": str(shared_cache)},
                      val_split="test")
    train, val = build_datasets(cfg)
    assert (len(train), len(val), train.num_classes, val.split) == (39, 23, 40, "test")
    # the default: ModelNet has no val split, so a stratified share of train would be held out;
    # one training shape per class leaves nothing to hold out, which is said, not hidden
    with pytest.raises(ValueError, match="too small to hold out 10% per class"):
        build_datasets(dataclasses.replace(cfg, val_split="auto"))


# -- formats and locating ------------------------------------------------------------------------
def test_auto_format_finds_release_folders_inside_root(tmp_path, build, cache_dir):
    build.modelnet_normal(tmp_path / "mn" / NORMAL)
    assert locate(tmp_path / "mn", "modelnet40") == ("normal", tmp_path / "mn" / NORMAL)
    build.modelnet_h5(tmp_path / "mn" / "modelnet40_ply_hdf5_2048")
    assert locate(tmp_path / "mn", "modelnet40")[0] == "h5"  # h5 first: no cache needed
    assert locate(tmp_path / "mn", "modelnet40", "normal")[0] == "normal"
    ds = _load(tmp_path / "mn", cache_dir=cache_dir, num_points=64)
    assert ds.format == "h5" and len(ds) == 9


def test_default_root_is_data_slash_name(tmp_path, build, monkeypatch, cache_dir):
    build.modelnet_normal(tmp_path / "data" / "modelnet40" / NORMAL)
    monkeypatch.chdir(tmp_path)
    ds = create_dataset("modelnet40", "test", num_points=32, cache_dir=cache_dir)
    assert ds.format == "normal" and len(ds) == 3
    with pytest.raises(DataError, match="modelnet10 data folder not found"):
        create_dataset("modelnet10", cache_dir=cache_dir)


def test_h5_reads_labels_points_and_normals(tmp_path, build):
    root = build.modelnet_h5(tmp_path / "h5")
    ds = _load(root, num_points=100, use_normals=True)
    with h5py.File(root / "ply_data_train1.h5") as f:
        data, normal = f["data"][()], f["normal"][()]
    assert len(ds) == 9 and ds.classes == ["airplane", "bathtub", "bed", "chair"]
    assert ds.labels().tolist() == [0, 1, 2, 3, 0, 0, 1, 2, 3]
    torch.testing.assert_close(ds[5]["points"], normalize_unit_sphere(torch.from_numpy(
        data[0, :100])))
    torch.testing.assert_close(ds[5]["normals"], torch.from_numpy(normal[0, :100]))
    assert len(_load(root, "test", num_points=128)) == 3


def test_h5_fps_is_cached(tmp_path, build, cache_dir):
    root = build.modelnet_h5(tmp_path / "h5")
    ds = _load(root, "test", cache_dir=cache_dir, num_points=32, sampling="fps")
    assert len(list(cache_dir.rglob("*.npz"))) == 1
    torch.testing.assert_close(_load(root, "test", cache_dir=cache_dir, num_points=32,
                                     sampling="fps").points, ds.points)


def test_modelnet10_from_h5_and_normal(tmp_path, build, cache_dir):
    root = build.modelnet_h5(tmp_path / "h5", classes=MODELNET40_CLASSES[:4])
    (root / "shape_names.txt").write_text("\n".join(MODELNET40_CLASSES))
    ds = _load(root, name="modelnet10", num_points=16)
    # labels 0..3 = airplane, bathtub, bed, bench: only bathtub and bed are ModelNet10 classes
    assert ds.num_classes == 10 and ds.labels().tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match="lacks the ModelNet10 classes"):
        _load(build.modelnet_h5(tmp_path / "h5b"), name="modelnet10")
    nroot = build.modelnet_normal(tmp_path / "n", name="modelnet10", classes=("bed", "sofa"))
    ds = _load(nroot, "test", cache_dir, name="modelnet10", num_points=16)
    assert ds.classes == ["bed", "sofa"] and len(ds) == 2


def test_off_format_on_the_real_meshes(shared_data, cache_dir):
    root = shared_data / "ModelNet40_off_sample"
    ds = _load(root, cache_dir=cache_dir, format="off", num_points=256, use_normals=True)
    assert len(ds) == 9 and ds.num_classes == 40
    assert sorted(ds.classes[k] for k in ds.labels().tolist()) == (
        ["airplane"] + ["bathtub"] * 5 + ["bed"] * 3)
    torch.testing.assert_close(ds.normals.norm(dim=-1), torch.ones(9, 256))
    fps = _load(root, cache_dir=cache_dir, format="off", num_points=256, sampling="fps",
                fps_candidates=2048)
    assert fps.points.shape == (9, 256, 3)
    with pytest.raises(DataError, match="no <class>/test/ folders"):
        _load(root, "test", cache_dir=cache_dir, format="off")


def test_off_format_on_a_generated_tree(tmp_path, build, cache_dir):
    root = build.modelnet_off(tmp_path / "ModelNet40")
    ds = _load(tmp_path, cache_dir=cache_dir, num_points=64, use_normals=True)
    assert ds.format == "off" and len(ds) == 4
    assert ds.points.norm(dim=-1).amax(1).sub(1).abs().max() < 1e-5  # unit sphere
    raw = _load(tmp_path, cache_dir=cache_dir, num_points=64, normalize=False)
    half = raw.points.abs().amax(-1)  # every sample lies on the surface of its cube
    torch.testing.assert_close(half, half[:, :1].expand_as(half))
    assert sorted(half[:, 0].tolist()) == pytest.approx([2, 3, 4, 5])
    (root / "airplane" / "train" / "notes.txt").write_text("ignored")
    (root / "__MACOSX" / "airplane").mkdir(parents=True)  # zip residue: ignored too
    assert len(_load(tmp_path, "test", cache_dir=cache_dir, num_points=64)) == 2


# -- caching -------------------------------------------------------------------------------------
def test_cache_is_used_then_rebuilt_when_the_source_changes(modelnet_copy, cache_dir,
                                                            monkeypatch):
    import reldrop3d.data.modelnet as mn

    kw = dict(cache_dir=cache_dir, format="normal", num_points=64)
    first = _load(modelnet_copy, "test", **kw)
    files = list(cache_dir.rglob("*.npz"))
    assert len(files) == 1 and not list(modelnet_copy.rglob("*.npz"))  # never inside the data
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]

    def boom(entry):
        raise AssertionError("read although cached")

    monkeypatch.setattr(mn, "read_normal_shape", boom)
    torch.testing.assert_close(_load(modelnet_copy, "test", **kw).points, first.points)
    monkeypatch.undo()

    path = modelnet_copy / "bed" / f"{first.shape_ids[1]}.txt"
    rows = _raw(path)
    rows[:, :3] = rows[:, :3] * 2 + 1  # same shape after normalisation, different file
    rows[0, :3] = [5, 5, 5]
    np.savetxt(path, rows, fmt="%.6f", delimiter=",")
    again = _load(modelnet_copy, "test", **kw)
    assert not torch.equal(again.points[1], first.points[1])
    torch.testing.assert_close(again.points[0], first.points[0])


def test_corrupt_cache_is_rebuilt_with_a_warning(shared_data, cache_dir, caplog):
    kw = dict(cache_dir=cache_dir, format="normal", num_points=32)
    first = _load(shared_data / NORMAL, "test", **kw)
    (path,) = cache_dir.rglob("*.npz")
    path.write_bytes(path.read_bytes()[:200])
    with caplog.at_level(logging.WARNING):
        again = _load(shared_data / NORMAL, "test", **kw)
    assert "unreadable" in caplog.text and str(path) in caplog.text
    torch.testing.assert_close(again.points, first.points)
    assert len(np.load(path).files) >= 3  # rewritten


def test_cache_keys_separate_parameters(shared_data, cache_dir):
    for kw in (dict(num_points=32), dict(num_points=64), dict(num_points=32, use_normals=True),
               dict(num_points=32, sampling="fps")):
        _load(shared_data / NORMAL, "test", cache_dir=cache_dir, format="normal", **kw)
    assert len(list(cache_dir.rglob("*.npz"))) == 4


# -- bad input -----------------------------------------------------------------------------------
ROW_EDITS = {  # damage: (0-based line, new text, expected message part; None: the file name)
    "malformed row": (7, "0.1,0.2,oops,0,0,1", "line 8: could not convert string 'oops'"),
    "short row": (3, "0.1,0.2,0.3", None),
    "nan": (9, "nan,0.2,0.3,0,0,1", "NaN/inf values (first at row 10)"),
    "inf": (0, "0.1,inf,0.3,0,0,1", "NaN/inf"),
}


def _break_normal(root, what):
    if what == "missing list":
        (root / "modelnet40_test.txt").unlink()
        return "modelnet40_test.txt"
    if what == "missing names":
        (root / "modelnet40_shape_names.txt").unlink()
        return None  # then the folder is no longer recognised as the format
    lst = root / "modelnet40_test.txt"
    if what == "id without file":
        lst.write_text(lst.read_text() + "bed_9999\n")
        return "bed_9999.txt"
    if what == "unknown class":
        lst.write_text(lst.read_text() + "spaceship_0001\n")
        return "unknown class 'spaceship'"
    if what == "malformed id":
        lst.write_text(lst.read_text() + "bed-0001\n")
        return "malformed shape id"
    if what == "duplicate id":
        lst.write_text(lst.read_text() + lst.read_text().split()[0] + "\n")
        return "duplicate shape id"
    shape = root / "bed" / (lst.read_text().split()[0] + ".txt")
    lines = shape.read_text().splitlines()
    if what in ROW_EDITS:
        row, text, expect = ROW_EDITS[what]
        lines[row] = text
        shape.write_text("\n".join(lines) + "\n")
        return expect or shape.name
    if what == "empty file":
        shape.write_text("")
        return "no points"
    if what == "fewer points":
        shape.write_text("\n".join(lines[:50]) + "\n")
        return "has 50 points, fewer than num_points=64"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["missing list", "id without file", "unknown class",
                                  "malformed id", "duplicate id", "malformed row", "short row",
                                  "nan", "inf", "empty file", "fewer points"])
def test_broken_normal_folder_raises_naming_the_file(tmp_path, build, what):
    root = build.modelnet_normal(tmp_path / NORMAL, classes=("bed", "chair"), rows=100)
    expect = _break_normal(root, what)
    with pytest.raises(DataError) as err:
        _load(root, "test", cache_dir=False, format="normal", num_points=64)
    assert expect in str(err.value)


def test_unrecognised_folders_and_bad_arguments(tmp_path, build):
    root = build.modelnet_normal(tmp_path / NORMAL)
    _break_normal(root, "missing names")
    with pytest.raises(DataError, match="no modelnet40 data in format 'normal'"):
        _load(root, format="normal")
    with pytest.raises(ValueError, match="format must be"):
        _load(root, format="ply")
    with pytest.raises(ValueError, match="splits"):
        _load(build.modelnet_h5(tmp_path / "h5"), "val")
    with pytest.raises(ValueError, match="sampling must be one of"):
        _load(tmp_path / "h5", sampling="poisson")
    with pytest.raises(ValueError, match="sampling must be one of"):
        _load(build.modelnet_off(tmp_path / "off"), format="off", sampling="first")
    with pytest.raises(ValueError, match="num_points"):
        _load(tmp_path / "h5", num_points=0)


def _h5_damage(root, what):
    f = root / "ply_data_train0.h5"
    if what == "truncated":
        f.write_bytes(f.read_bytes()[:1000])
        return "unreadable HDF5"
    if what == "not h5":
        f.write_bytes(b"this is not hdf5" * 100)
        return "unreadable HDF5"
    if what == "missing file":
        f.unlink()
        return "ply_data_train0.h5: missing"
    if what == "missing list":
        (root / "train_files.txt").unlink()
        return "train_files.txt"
    with h5py.File(f, "r+") as h:
        if what == "wrong keys":
            h["points"] = h["data"][()]
            del h["data"]
            return "missing HDF5 key(s) ['data']; found ['label', 'normal', 'points']"
        if what == "label range":
            h["label"][0] = 7
            return "label 7 out of range [0, 4)"
        if what == "nan":
            d = h["data"][()]
            d[1, 5, 0] = np.nan
            h["data"][...] = d
            return "NaN/inf"
        if what == "wrong dims":
            del h["data"]
            h["data"] = np.zeros((5, 128), np.float32)
            return "'data' has shape (5, 128)"
        if what == "rows mismatch":
            del h["label"]
            h["label"] = np.zeros((3, 1), np.uint8)
            return "'label' has 3 rows, expected 5"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["truncated", "not h5", "missing file", "missing list",
                                  "wrong keys", "label range", "nan", "wrong dims",
                                  "rows mismatch"])
def test_broken_h5_raises_naming_the_file(tmp_path, build, what):
    root = build.modelnet_h5(tmp_path / "h5")
    expect = _h5_damage(root, what)
    with pytest.raises(DataError) as err:
        _load(root, num_points=64)
    assert expect in str(err.value)


def test_h5_without_normals_or_points(tmp_path, build):
    root = build.modelnet_h5(tmp_path / "h5", normals=False)
    with pytest.raises(DataError, match="ply_data_train0.h5: no 'normal' key"):
        _load(root, use_normals=True)
    with pytest.raises(DataError, match="has 128 points per shape, fewer than num_points=2048"):
        _load(root, num_points=2048)


def test_off_tree_problems(tmp_path, build):
    root = build.modelnet_off(tmp_path / "ModelNet40")
    (root / "spaceship" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="spaceship: unknown class folder"):
        _load(root, format="off", cache_dir=False)
    shutil.rmtree(root / "spaceship")
    (root / "bed" / "train" / "bed_0003.off").write_text("OFF\n3 1 0\n0 0 0\n")
    with pytest.raises(DataError, match="bed_0003.off: truncated OFF file"):
        _load(root, format="off", cache_dir=False)


def test_first_sampling_validates_the_whole_file_as_data_check_does(tmp_path, build):
    from reldrop3d.data.check import check_root

    root = build.modelnet_normal(tmp_path / NORMAL, classes=("bed",), rows=300)
    shape = root / "bed" / "bed_0003.txt"
    lines = shape.read_text().splitlines()
    lines[200] = "1,2,broken,0,0,1"
    shape.write_text("\n".join(lines) + "\n")
    for sampling in ("first", "fps"):  # row 201 is past the 64 used: refused all the same
        with pytest.raises(DataError, match="bed_0003.txt: malformed row .line 201"):
            _load(root, "test", cache_dir=False, format="normal", num_points=64, sampling=sampling)
    assert "bed_0003.txt: malformed row (line 201" in check_root(root).all_problems[0]
