"""Damaged data folders: ``data check`` and ``train`` must refuse exactly the same files, each
with a message naming the file, and ``train`` must say so in one line (exit status 2).

One row per case: ``(id, folder builder, damage, expected message, data check flags)``.
``damage(root, f)`` damages a healthy folder (``f``: the ``folders`` fixture's helpers) and
returns the damaged file. The rows of ``ACCEPTED`` are inputs that look
odd but are fine: both commands must succeed.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest


def _write(path, text):
    path.write_text(text)
    return path


def _h5_data(root, f, shape, point, axis, value):
    path = root / "ply_data_train0.h5"
    with h5py.File(path) as h5:
        data = h5["data"][()]
    data[shape, point, axis] = value
    return f.rewrite_h5(path, data=data)


def _few_rows(root, f=None, rows=30):
    path = root / "bed" / "bed_0002.txt"
    lines = path.read_text().splitlines()[:rows]
    return _write(path, "\n".join(lines) + "\n")


def _missing(root, f=None):
    path = root / "bed" / "bed_0002.txt"
    path.unlink()
    return path


# (id, builder, damage, expected substring of the message; check-only flags)
DAMAGED = [
    ("inf past the rows sampled", "modelnet_normal",
     lambda r, f: f.replace_row(r / "bed" / "bed_0002.txt", 90, "1,2,inf,0,0,1"),
     "NaN/inf values (first at row 90)", ()),
    ("truncated past the rows sampled", "modelnet_normal",
     lambda r, f: f.truncate_mid_row(r / "bed" / "bed_0002.txt", 80), "malformed row (line 80", ()),
    ("coordinate 1e20 (float32 norm overflow)", "modelnet_normal",
     lambda r, f: f.replace_row(r / "bed" / "bed_0002.txt", 10, "1e20,0,0,0,0,1"),
     "absurd coordinate 1e+20 at point row 10", ()),
    ("absurd coordinate past the rows sampled", "modelnet_normal",
     lambda r, f: f.replace_row(r / "chair" / "chair_0003.txt", 95, "0,-3e12,0,0,0,1"),
     "absurd coordinate -3e+12 at point row 95", ()),
    ("fewer points than --num-points", "modelnet_normal", _few_rows,
     "has 30 points, fewer than num_points=64", ("--num-points", "64")),
    ("listed file missing", "modelnet_normal", _missing,
     "missing (listed in modelnet40_train.txt line 2)", ()),
    ("h5 float labels", "modelnet_h5",
     lambda r, f: f.rewrite_h5(r / "ply_data_train0.h5",
                          label=np.array([[0.0], [1.0], [2.5], [0.0], [1.0], [2.0]])),
     "'label' holds non-integer value 2.5", ()),
    ("h5 absurd coordinate", "modelnet_h5", lambda r, f: _h5_data(r, f, 4, 7, 1, 1e25),
     "absurd coordinate 1e+25 at point shape 5 point 8", ()),
    ("zero-area mesh", "modelnet_off",
     lambda r, f: _write(r / "bed" / "train" / "bed_0001.off",
                         f.off_text([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]])),
     "mesh has zero surface area", ()),
    ("mesh vertex 1e21", "modelnet_off",
     lambda r, f: _write(r / "chair" / "train" / "chair_0003.off",
                         f.off_text(np.vstack([f.cube_vertices[:7], [[1e21, 1, 1]]]),
                                    f.cube_faces)),
     "absurd coordinate 1e+21 at vertex row 8", ()),
    ("shapenet NaN point", "shapenet_normal",
     lambda r, f: f.replace_row(next((r / "02691156").glob("000000.txt")), 5, "nan 0 0 0 0 1 0"),
     "NaN/inf values (first at row 5)", ()),
]


@pytest.mark.parametrize("case, builder, damage, message, check_flags", DAMAGED,
                         ids=[row[0] for row in DAMAGED])
def test_damaged_file_is_refused_by_data_check_and_train_alike(
        cli, folders, tmp_path, case, builder, damage, message, check_flags):
    root = getattr(folders, builder)(tmp_path / "data")
    bad = damage(root, folders)

    checked = cli("data", "check", root, "--quiet", *check_flags)
    assert checked.rc == 1, checked.out
    problems = [ln for ln in checked.out.splitlines() if ln.startswith("  - ")]
    assert any(message in ln and str(bad) in ln for ln in problems), checked.out

    trained = cli("train", "--data", folders.dataset[builder], "--data-root", root,
                  "--out", tmp_path / "run", "--val-split", "test", *folders.tiny_train)
    line = trained.one_line_error()
    assert message in line and str(bad) in line


def test_missing_file_error_points_to_skip_missing(cli, folders, tmp_path):
    root = folders.modelnet_normal(tmp_path / "data")
    _missing(root)
    line = cli("train", "--data", "modelnet40", "--data-root", root, "--out", tmp_path / "run",
               *folders.tiny_train).one_line_error()
    assert "1 of 6 listed file(s) missing: use --skip-missing" in line


def test_skip_missing_trains_on_the_shapes_present_and_says_how_many(cli, folders, tmp_path,
                                                                     caplog):
    root = folders.modelnet_normal(tmp_path / "data")
    _missing(root)
    (root / "chair" / "chair_0008.txt").unlink()  # one of the three test shapes
    checked = cli("data", "check", root, "--quiet")
    assert "train: 5 shapes in 3 of 3 classes (6 listed, 5 present, 1 missing" in checked.out
    assert "test: 2 shapes in 2 of 3 classes (3 listed, 2 present, 1 missing" in checked.out

    with caplog.at_level(logging.WARNING, logger="reldrop3d.data"):
        trained = cli("train", "--data", "modelnet40", "--data-root", root, "--skip-missing",
                      "--out", tmp_path / "run", "--val-split", "test", *folders.tiny_train)
    assert trained.rc == 0, trained.err
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("train split" in m and "skipped 1 of 6 listed" in m and "the 5 present" in m
               for m in skipped), skipped
    assert any("test split" in m and "skipped 1 of 3 listed" in m for m in skipped), skipped


def test_skip_missing_with_every_file_missing_still_fails(cli, folders, tmp_path):
    root = folders.modelnet_normal(tmp_path / "data")
    for path in root.glob("*/*_000[789].txt"):  # the whole test split
        path.unlink()
    line = cli("train", "--data", "modelnet40", "--data-root", root, "--skip-missing",
               "--out", tmp_path / "run", "--val-split", "test", *folders.tiny_train).one_line_error()
    assert "has no shapes (3 listed, all missing)" in line


# inputs that look damaged but are valid: (id, builder, change)
ACCEPTED = [
    ("UTF-8 BOM in the class-name list", "modelnet_normal",
     lambda r, f: f.add_bom(r / "modelnet40_shape_names.txt")),
    ("UTF-8 BOM in the split list", "modelnet_normal", lambda r, f: f.add_bom(r / "modelnet40_train.txt")),
    ("UTF-8 BOM in a shape file", "modelnet_normal", lambda r, f: f.add_bom(r / "bed" / "bed_0001.txt")),
    ("UTF-8 BOM in the ShapeNet JSON split list", "shapenet_normal",
     lambda r, f: f.add_bom(r / "train_test_split" / "shuffled_train_file_list.json")),
    ("whole-number float labels in h5", "modelnet_h5",
     lambda r, f: f.rewrite_h5(r / "ply_data_train0.h5", label=np.array([[0.0], [1], [2], [0], [1], [2]]))),
]


@pytest.mark.parametrize("case, builder, change", ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_odd_but_valid_input_is_accepted(cli, folders, tmp_path, case, builder, change):
    root = getattr(folders, builder)(tmp_path / "data")
    change(root, folders)
    checked = cli("data", "check", root, "--quiet")
    assert checked.rc == 0 and "0 problem(s)" in checked.out, checked.out
    trained = cli("train", "--data", folders.dataset[builder], "--data-root", root,
                  "--out", tmp_path / "run", "--val-split", "test", *folders.tiny_train)
    assert trained.rc == 0, trained.err
