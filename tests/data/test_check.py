"""``reldrop3d data check``: counts per split and class, every problem, exit codes."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from reldrop3d.cli import main
from reldrop3d.data.check import check_root


def test_shared_normal_sample_is_clean(shared_data, capsys):
    root = shared_data / "modelnet40_normal_resampled"
    report = check_root(root)
    assert report.ok and [d.dataset for d in report.datasets] == ["modelnet40"]
    (ds,) = report.datasets
    assert [(s.split, s.shapes) for s in ds.splits] == [("train", 39), ("test", 23)]
    assert ds.splits[1].counts["chair"] == 1 and "door" not in ds.splits[0].counts
    assert main(["data", "check", str(root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "train: 39 shapes in 39 of 40 classes" in out and "classes without shapes (1)" in out
    assert "door" in out and out.rstrip().endswith("0 problem(s)")


def test_shared_cap_and_off_samples(shared_data, capsys):
    cap = check_root(shared_data / "shapenetpart_cap_sample")
    assert cap.ok and [(s.split, s.counts) for s in cap.datasets[0].splits] == [
        ("train", {"Cap": 3}), ("val", {"Cap": 2}), ("test", {"Cap": 4})]
    off = check_root(shared_data / "ModelNet40_off_sample", dataset="modelnet40")
    assert off.datasets[0].splits[0].counts == {"airplane": 1, "bathtub": 5, "bed": 3}
    assert len(off.all_problems) == 1 and "no <class>/test/ folders" in off.all_problems[0]
    assert main(["data", "check", str(shared_data / "ModelNet40_off_sample"), "--quiet"]) == 1


def test_every_problem_is_reported(modelnet_copy, capsys):
    lst = modelnet_copy / "modelnet40_test.txt"
    lst.write_text(lst.read_text() + "bed_9999\nspaceship_0001\nbed-x\n")
    bad_row = modelnet_copy / "chair" / "chair_0454.txt"
    lines = bad_row.read_text().splitlines()
    lines[99] = "1,2,abc,0,0,1"
    bad_row.write_text("\n".join(lines) + "\n")
    nan = modelnet_copy / "cup" / "cup_0028.txt"
    lines = nan.read_text().splitlines()
    lines[5] = "nan,0,0,0,0,1"
    nan.write_text("\n".join(lines) + "\n")
    train = modelnet_copy / "modelnet40_train.txt"
    train.write_text(train.read_text() + lst.read_text().split()[0] + "\n")  # in both splits
    report = check_root(modelnet_copy)
    text = "\n".join(report.all_problems)
    for expect in ["bed_9999.txt: missing", "unknown class 'spaceship'", "malformed shape id",
                   "chair_0454.txt: malformed row (line 100", "cup_0028.txt: 1 point(s) with NaN",
                   "in both the train and the test split"]:
        assert expect in text
    assert len(report.all_problems) == 6
    assert main(["data", "check", str(modelnet_copy), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "6 problem(s):" in out and "unreadable" in out


def test_generated_formats_and_filters(tmp_path, build):
    build.modelnet_h5(tmp_path / "modelnet40_ply_hdf5_2048")
    build.modelnet_normal(tmp_path / "modelnet40_normal_resampled")
    build.shapenet_h5(tmp_path / "hdf5_data")
    report = check_root(tmp_path)
    assert report.ok
    assert [(d.dataset, d.fmt) for d in report.datasets] == [
        ("modelnet40", "h5"), ("modelnet40", "normal"), ("shapenetpart", "h5")]
    h5 = report.datasets[0]
    assert h5.splits[0].counts == {"airplane": 3, "bathtub": 2, "bed": 2, "chair": 2}
    only = check_root(tmp_path, dataset="shapenet", fmt="h5")
    assert [(d.dataset, d.fmt) for d in only.datasets] == [("shapenetpart", "h5")]
    assert [s.shapes for s in only.datasets[0].splits] == [4, 2, 3]
    missing = check_root(tmp_path, dataset="modelnet10", fmt="off")
    assert not missing.ok and "no modelnet10 data in format 'off'" in missing.all_problems[0]
    with pytest.raises(ValueError, match="can check"):
        check_root(tmp_path, dataset="scannet")


def test_broken_h5_and_empty_folder(tmp_path, build, capsys):
    root = build.modelnet_h5(tmp_path / "h5")
    with h5py.File(root / "ply_data_train1.h5", "r+") as f:
        del f["label"]
    (root / "ply_data_test0.h5").write_bytes(b"\x89HDF\r\n" + bytes(100))
    report = check_root(root)
    text = "\n".join(report.all_problems)
    assert "ply_data_train1.h5: missing HDF5 key(s) ['label']" in text
    assert "ply_data_test0.h5: unreadable HDF5" in text
    assert report.datasets[0].splits[0].bad == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not check_root(empty).ok
    assert not check_root(tmp_path / "nope").ok
    assert main(["data", "check", str(empty), "--quiet"]) == 1
    assert main(["data"]) == 2
    assert main(["data", "check", str(empty), "--dataset", "scannet"]) == 2
    capsys.readouterr()


def test_shapenet_text_problems(shared_data, tmp_path):
    root = tmp_path / "cap"
    shutil.copytree(shared_data / "shapenetpart_cap_sample", root)
    shape = root / "02954340" / "cap_val_04.txt"
    rows = np.loadtxt(shape)
    rows[10, 6] = 12  # a Chair part on a Cap
    np.savetxt(shape, rows, fmt="%.6f")
    (root / "02954340" / "cap_test_02.txt").unlink()
    report = check_root(root)
    text = "\n".join(report.all_problems)
    assert "cap_val_04.txt: part id 12 (point 11) is not a part of Cap" in text
    assert "cap_test_02.txt: missing" in text and len(report.all_problems) == 2
