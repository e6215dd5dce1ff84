"""ShapeNetPart / ShapeNet on the real Cap sample and generated folders (text and h5)."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from reldrop3d.data import DataError, create_dataset
from reldrop3d.data.shapenet import CATEGORIES, NUM_PARTS, PARTS_OF_CLASS, part_category

CAP = "shapenetpart_cap_sample"
CAP_SYNSET = "02954340"

STANDARD_TABLE = {  # the usual ShapeNetPart category -> part-id table
    "Airplane": [0, 1, 2, 3], "Bag": [4, 5], "Cap": [6, 7], "Car": [8, 9, 10, 11],
    "Chair": [12, 13, 14, 15], "Earphone": [16, 17, 18], "Guitar": [19, 20, 21],
    "Knife": [22, 23], "Lamp": [24, 25, 26, 27], "Laptop": [28, 29],
    "Motorbike": [30, 31, 32, 33, 34, 35], "Mug": [36, 37], "Pistol": [38, 39, 40],
    "Rocket": [41, 42, 43], "Skateboard": [44, 45, 46], "Table": [47, 48, 49],
}


def _load(root, split="train", name="shapenetpart", **kw):
    kw.setdefault("cache_dir", False)
    return create_dataset(name, split, root=root, **kw)


def test_part_table_is_the_standard_one():
    assert {CATEGORIES[k]: v for k, v in PARTS_OF_CLASS.items()} == STANDARD_TABLE
    assert NUM_PARTS == 50
    ids = np.arange(50)
    assert [CATEGORIES[c] for c in part_category(ids)] == [
        c for c, parts in STANDARD_TABLE.items() for _ in parts]


@pytest.mark.parametrize("split,ids", [
    ("train", ["cap_train_00", "cap_train_01", "cap_train_02"]),
    ("val", ["cap_val_03", "cap_val_04"]),
    ("test", ["cap_test_00", "cap_test_01", "cap_test_02", "cap_test_03"]),
    ("trainval", ["cap_train_00", "cap_train_01", "cap_train_02", "cap_val_03", "cap_val_04"]),
])
def test_cap_sample_splits(shared_data, split, ids):
    ds = _load(shared_data / CAP, split, num_points=512, use_normals=True)
    assert ds.shape_ids == [f"{CAP_SYNSET}/{i}" for i in ids]
    assert ds.classes == CATEGORIES and ds.labels().tolist() == [2] * len(ids)
    assert ds.num_parts == 50 and ds.parts_of_class[2] == [6, 7]
    s = ds[0]
    assert set(s) == {"points", "normals", "label", "parts", "index"}
    assert s["parts"].shape == (512,) and s["parts"].dtype == torch.long
    assert set(ds.parts.unique().tolist()) <= {6, 7}
    # normals are passed through as stored: ~1% of ShapeNetPart's are not unit length
    assert ((ds.normals.norm(dim=-1) - 1).abs() < 2e-3).float().mean() > 0.95


def test_points_and_parts_stay_aligned(shared_data):
    ds = _load(shared_data / CAP, "val", num_points=256, normalize=False, use_normals=True)
    rows = np.loadtxt(shared_data / CAP / CAP_SYNSET / "cap_val_03.txt", dtype=np.float32)
    table = {tuple(r[:3]): (r[3:6], int(r[6])) for r in rows}
    for p, n, part in zip(ds.points[0].numpy(), ds.normals[0].numpy(), ds.parts[0].tolist()):
        want_n, want_part = table[tuple(p)]
        assert part == want_part and np.allclose(n, want_n)
    assert len({tuple(p) for p in ds.points[0].numpy()}) == 256  # without replacement


def test_more_points_than_a_shape_has_resamples_with_replacement(shared_data):
    ds = _load(shared_data / CAP, "test", num_points=4096, normalize=False)
    rows = np.loadtxt(shared_data / CAP / CAP_SYNSET / "cap_test_00.txt", dtype=np.float32)
    got = {tuple(p) for p in ds.points[0].numpy()}
    assert got == {tuple(r[:3]) for r in rows}  # every point kept, the rest repeated
    assert ds.points.shape == (4, 4096, 3)


@pytest.mark.parametrize("sampling", ["random", "fps", "first"])
def test_samplings_and_cache(shared_data, tmp_path, sampling):
    ds = _load(shared_data / CAP, "val", num_points=300, sampling=sampling, cache_dir=tmp_path)
    again = _load(shared_data / CAP, "val", num_points=300, sampling=sampling, cache_dir=tmp_path)
    torch.testing.assert_close(ds.points, again.points)
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    assert ds.points.norm(dim=-1).amax(1).sub(1).abs().max() < 1e-5


def test_classification_view(shared_data, tmp_path):
    ds = _load(shared_data / CAP, "test", name="shapenet", num_points=128, cache_dir=tmp_path)
    part = _load(shared_data / CAP, "test", num_points=128, cache_dir=tmp_path)
    assert set(ds[0]) == {"points", "label", "index"} and ds.num_parts == 0
    assert ds.num_classes == 16 and ds.parts_of_class == {}
    torch.testing.assert_close(ds.points, part.points)  # same files, same cache
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["points"].shape == (4, 128, 3)


def test_default_roots(shared_data, tmp_path, monkeypatch):
    shutil.copytree(shared_data / CAP, tmp_path / "data" / "shapenetpart" /
                    "shapenetcore_partanno_segmentation_benchmark_v0_normal")
    monkeypatch.chdir(tmp_path)
    for name in ("shapenetpart", "shapenet"):  # shapenet falls back to data/shapenetpart
        assert len(create_dataset(name, "val", num_points=64, cache_dir=False)) == 2


def test_generated_text_folder_and_category_filter(tmp_path, build):
    root = build.shapenet_normal(tmp_path / "sn")
    ds = _load(root, num_points=64)
    assert sorted(set(ds.labels().tolist())) == [0, 2, 11]  # Airplane, Cap, Mug
    for i in range(len(ds)):
        assert set(ds[i]["parts"].tolist()) <= set(PARTS_OF_CLASS[int(ds[i]["label"])])
    mugs = _load(root, num_points=64, categories=["Mug"])
    assert mugs.labels().tolist() == [11, 11] and mugs.num_classes == 16
    with pytest.raises(ValueError, match="unknown ShapeNetPart categories"):
        _load(root, categories=["Boat"])
    with pytest.raises(DataError, match="no shapes"):
        _load(root, categories=["Table"])


def test_h5_folder(tmp_path, build):
    root = build.shapenet_h5(tmp_path / "hdf5_data")
    ds = _load(tmp_path, "test", num_points=64, sampling="first", normalize=False)
    with h5py.File(root / "ply_data_test0.h5") as f:
        data, pid = f["data"][()], f["pid"][()]
    assert ds.format == "h5" and ds.labels().tolist() == [0, 4, 15]
    torch.testing.assert_close(ds.points, torch.from_numpy(data[:, :64]))
    assert ds.parts.tolist() == pid[:, :64].astype(int).tolist()
    assert len(_load(tmp_path, "trainval", num_points=32)) == 6
    assert len(_load(tmp_path, "train", num_points=200)) == 4  # 96 points: with replacement
    with pytest.raises(DataError, match="no normals"):
        _load(tmp_path, use_normals=True)


def _damage_text(root, what):
    lst = root / "train_test_split" / "shuffled_test_file_list.json"
    items = json.loads(lst.read_text())
    first = root / items[0].split("/", 1)[1]
    shape = first.with_suffix(".txt")
    if what == "missing split list":
        lst.unlink()
        return "shuffled_test_file_list.json: split list not found"
    if what == "bad json":
        lst.write_text("[shape_data/")
        return "not a JSON list"
    if what == "json not a list":
        lst.write_text('{"a": 1}')
        return "expected a JSON list"
    if what == "unknown synset":
        lst.write_text(json.dumps(items + ["shape_data/99999999/abc"]))
        return "unknown synset '99999999'"
    if what == "malformed entry":
        lst.write_text(json.dumps(items + ["nothing"]))
        return "malformed entry 'nothing'"
    if what == "missing file":
        shape.unlink()
        return f"{shape}: missing"
    if what == "unknown category":
        cat = root / "synsetoffset2category.txt"
        cat.write_text(cat.read_text().replace("Airplane", "Zeppelin"))
        return "unknown category 'Zeppelin'"
    rows = np.loadtxt(shape)
    if what == "part of another category":
        rows[5, 6] = 49  # a Table part in an Airplane
        np.savetxt(shape, rows, fmt="%.6f")
        return "part id 49 (point 6) is not a part of Airplane"
    if what == "fractional part":
        rows[0, 6] = 1.5
        np.savetxt(shape, rows, fmt="%.6f")
        return "non-integer"
    if what == "six columns":
        np.savetxt(shape, rows[:, :6], fmt="%.6f")
        return "expected 7 columns per row, found 6"
    if what == "nan":
        rows[3, 1] = np.inf
        np.savetxt(shape, rows, fmt="%.6f")
        return "NaN/inf values (first at row 4)"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["missing split list", "bad json", "json not a list",
                                  "unknown synset", "malformed entry", "missing file",
                                  "unknown category", "part of another category",
                                  "fractional part", "six columns", "nan"])
def test_broken_text_folder_raises_naming_the_file(tmp_path, build, what):
    root = build.shapenet_normal(tmp_path / "sn", per_split=(("test", 1),))
    expect = _damage_text(root, what)
    with pytest.raises(DataError) as err:
        _load(root, "test", num_points=32)
    assert expect in str(err.value)


@pytest.mark.parametrize("what,expect", [
    ("wrong keys", "missing HDF5 key(s) ['pid']"),
    ("pid shape", "'pid' has shape (3, 5), expected (3, 96)"),
    ("pid category", "is not a part of Airplane"),
    ("truncated", "unreadable HDF5"),
    ("missing list", "test_hdf5_file_list.txt: h5 file list not found"),
])
def test_broken_h5_folder(tmp_path, build, what, expect):
    root = build.shapenet_h5(tmp_path / "hdf5_data")
    f = root / "ply_data_test0.h5"
    if what == "truncated":
        f.write_bytes(f.read_bytes()[:500])
    elif what == "missing list":
        (root / "test_hdf5_file_list.txt").unlink()
    else:
        with h5py.File(f, "r+") as h:
            if what == "wrong keys":
                del h["pid"]
            elif what == "pid shape":
                del h["pid"]
                h["pid"] = np.zeros((3, 5), np.uint8)
            else:
                pid = h["pid"][()]
                pid[0, 0] = 30
                h["pid"][...] = pid
    with pytest.raises(DataError) as err:
        _load(root, "test", num_points=32)
    assert expect in str(err.value)
