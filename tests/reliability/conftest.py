"""Fixtures of the adversarial suite: the ``cli`` runner and small data folders to damage.

``cli(*argv)`` runs :func:`reldrop3d.cli.main` in-process (fast: no interpreter start) and
returns a :class:`CliResult` with the exit status and what went to stdout / stderr. The folder
builders write healthy, tiny data folders in ``tmp_path`` that a test row then damages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

#: flags that make ``reldrop3d train`` as small as it gets (one optimiser step)
TINY_TRAIN = ("--epochs", "1", "--max-steps-per-epoch", "1", "--batch-size", "2",
              "--num-points", "64", "--no-progress", "--accelerator", "cpu", "--augment", "none")
MODELNET_CLASSES = ("bed", "chair", "desk")
SHAPENET_SYNSETS = {"Airplane": "02691156", "Cap": "02954340", "Mug": "03797390"}


@dataclass
class CliResult:
    """Exit status and captured output of one ``reldrop3d`` call."""

    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def one_line_error(self) -> str:
        """The message of the single ``reldrop3d: error:`` line stderr must consist of."""
        assert self.rc == 2, f"exit status {self.rc}, stderr:\n{self.err}"
        assert "Traceback" not in self.err, self.err
        lines = self.err_lines
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{self.err}"
        assert lines[0].startswith("reldrop3d: error: "), lines[0]
        return lines[0]

    def usage_error(self) -> str:
        """The ``error:`` line of an argparse usage error (usage line(s), then the error)."""
        assert self.rc == 2, f"exit status {self.rc}, stderr:\n{self.err}"
        assert "Traceback" not in self.err, self.err
        last = self.err_lines[-1]
        assert last.startswith("reldrop3d") and ": error: " in last, self.err
        return last


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Caches in ``tmp_path``, no debug mode inherited from the environment, cwd ``tmp_path``
    (commands that default to ``runs/...`` or ``outputs/...`` write there)."""
    monkeypatch.setenv("RELDROP3D_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RELDROP3D_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli(capsys):
    """``cli(*argv) -> CliResult``: run ``reldrop3d ARGV`` in this process."""
    from reldrop3d.cli import main

    def run(*argv) -> CliResult:
        capsys.readouterr()  # drop what came before
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse usage errors and --help
            rc = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(int(rc or 0), captured.out, captured.err)

    return run


# -- healthy data folders ------------------------------------------------------------------------
def _cloud(rng: np.random.Generator, rows: int) -> np.ndarray:
    n = rng.normal(size=(rows, 3))
    return np.concatenate([rng.normal(size=(rows, 3)), n / np.linalg.norm(n, axis=1)[:, None]], 1)


def modelnet_normal(root: Path, rows: int = 100, per_split=(("train", 2), ("test", 1))) -> Path:
    """``modelnet40_normal_resampled``-style folder: 3 classes, ``rows`` rows per shape."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "modelnet40_shape_names.txt").write_text("\n".join(MODELNET_CLASSES) + "\n")
    k = 1
    for split, count in per_split:
        ids = []
        for c in MODELNET_CLASSES:
            (root / c).mkdir(exist_ok=True)
            for _ in range(count):
                ids.append(f"{c}_{k:04d}")
                np.savetxt(root / c / f"{ids[-1]}.txt", _cloud(rng, rows), fmt="%.6f",
                           delimiter=",")
                k += 1
        (root / f"modelnet40_{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def modelnet_h5(root: Path, points: int = 96) -> Path:
    """``modelnet40_ply_hdf5_2048``-style folder: one file per split, 3 classes."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "shape_names.txt").write_text("\n".join(MODELNET_CLASSES) + "\n")
    for split, b in (("train", 6), ("test", 3)):
        with h5py.File(root / f"ply_data_{split}0.h5", "w") as f:
            f["data"] = rng.normal(size=(b, points, 3)).astype(np.float32)
            f["label"] = (np.arange(b) % 3).astype(np.uint8).reshape(b, 1)
        (root / f"{split}_files.txt").write_text(f"data/x/ply_data_{split}0.h5\n")
    return root


def off_text(vertices, faces) -> str:
    lines = [f"OFF\n{len(vertices)} {len(faces)} 0"]
    lines += [" ".join(f"{c:.6f}" for c in v) for v in vertices]
    lines += [f"{len(f)} " + " ".join(map(str, f)) for f in faces]
    return "\n".join(lines) + "\n"


CUBE_V = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
CUBE_F = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]


def modelnet_off(root: Path) -> Path:
    """Raw ``ModelNet40/<class>/<split>/<id>.off`` tree of cubes (2 train, 1 test per class)."""
    k = 1
    for split, count in (("train", 2), ("test", 1)):
        for c in MODELNET_CLASSES:
            (root / c / split).mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                (root / c / split / f"{c}_{k:04d}.off").write_text(off_text(CUBE_V * k, CUBE_F))
                k += 1
    return root


def shapenet_normal(root: Path, rows: int = 80) -> Path:
    """``shapenetcore_partanno_segmentation_benchmark_v0_normal``-style folder, 3 categories."""
    from reldrop3d.data.shapenet import CATEGORIES, PARTS_OF_CLASS

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "synsetoffset2category.txt").write_text(
        "".join(f"{c}\t{s}\n" for c, s in SHAPENET_SYNSETS.items()))
    (root / "train_test_split").mkdir()
    k = 0
    for split, count in (("train", 2), ("val", 1), ("test", 1)):
        items = []
        for c, synset in SHAPENET_SYNSETS.items():
            (root / synset).mkdir(exist_ok=True)
            for _ in range(count):
                parts = rng.choice(PARTS_OF_CLASS[CATEGORIES.index(c)], size=rows)
                rows_ = np.concatenate([_cloud(rng, rows), parts[:, None]], 1)
                np.savetxt(root / synset / f"{k:06x}.txt", rows_, fmt="%.6f")
                items.append(f"shape_data/{synset}/{k:06x}")
                k += 1
        (root / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps(items))
    return root


# -- damage --------------------------------------------------------------------------------------
def replace_row(path: Path, row: int, text: str) -> Path:
    """Overwrite 1-based line ``row`` of a text file with ``text``."""
    lines = path.read_text().splitlines()
    lines[row - 1] = text
    path.write_text("\n".join(lines) + "\n")
    return path


def truncate_mid_row(path: Path, row: int, delimiter: str = ",") -> Path:
    """Cut a text file inside 1-based line ``row``, after its second value (as an interrupted
    copy leaves it)."""
    lines = path.read_text().splitlines()
    cut = delimiter.join(lines[row - 1].split(delimiter)[:2])
    path.write_text("\n".join(lines[: row - 1] + [cut]))
    return path


def add_bom(path: Path) -> Path:
    """Prefix a UTF-8 byte-order mark, as Windows editors write."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def rewrite_h5(path: Path, **arrays) -> Path:
    """Replace data sets of an HDF5 file (e.g. ``label=float array``)."""
    with h5py.File(path, "a") as f:
        for key, value in arrays.items():
            del f[key]
            f[key] = value
    return path


class Folders:
    """What the ``folders`` fixture hands out: the builders (``dataset`` names the registered
    data set each builds), the damage helpers, and the tiny training flags."""

    modelnet_normal = staticmethod(modelnet_normal)
    modelnet_h5 = staticmethod(modelnet_h5)
    modelnet_off = staticmethod(modelnet_off)
    shapenet_normal = staticmethod(shapenet_normal)
    dataset = {"modelnet_normal": "modelnet40", "modelnet_h5": "modelnet40",
               "modelnet_off": "modelnet40", "shapenet_normal": "shapenet"}
    replace_row = staticmethod(replace_row)
    truncate_mid_row = staticmethod(truncate_mid_row)
    add_bom = staticmethod(add_bom)
    rewrite_h5 = staticmethod(rewrite_h5)
    off_text = staticmethod(off_text)
    cube_vertices, cube_faces = CUBE_V, CUBE_F
    tiny_train = TINY_TRAIN


@pytest.fixture
def folders() -> type[Folders]:
    return Folders


@pytest.fixture
def text_checkpoint(tmp_path) -> Path:
    """A text file named like a checkpoint."""
    path = tmp_path / "notes.ckpt"
    path.write_text("this is not a checkpoint\n")
    return path
