"""Fixtures of the adversarial suite: the ``cli`` runner and small data folders to damage.

``cli(*argv)`` runs :func:`reldrop3d.cli.main` in-process (fast: no interpreter start) and
returns a :class:`CliResult` with the exit status and what went to stdout / stderr. The folder
builders write healthy, tiny data folders in ``tmp_path`` that a test row then damages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import h5py
import pytest
from folder_builders import (
    CUBE_F,
    CUBE_V,
    off_text,
    write_modelnet_h5,
    write_modelnet_normal,
    write_modelnet_off,
    write_shapenet_normal,
)

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


# -- healthy data folders (the shared writers with this suite's sizes) ---------------------------
modelnet_normal = partial(write_modelnet_normal, classes=MODELNET_CLASSES, rows=100)
modelnet_h5 = partial(write_modelnet_h5, classes=MODELNET_CLASSES, points=96, normals=False,
                      sizes=(("train", (6,)), ("test", (3,))))
modelnet_off = partial(write_modelnet_off, classes=MODELNET_CLASSES, header="OFF\n")
shapenet_normal = partial(write_shapenet_normal, categories=tuple(SHAPENET_SYNSETS), rows=80)


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
