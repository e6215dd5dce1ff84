"""Writers of small data folders in every public format (text, OFF, HDF5), shared by the data
tests and the adversarial reliability tests (imported by name: the root conftest's folder,
``tests/``, is on the path). Each writes into ``root`` and returns it."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from reldrop3d.data.shapenet import CATEGORIES, PARTS_OF_CLASS

SYNSETS = {
    "Airplane": "02691156", "Bag": "02773838", "Cap": "02954340", "Car": "02958343",
    "Chair": "03001627", "Earphone": "03261776", "Guitar": "03467517", "Knife": "03624134",
    "Lamp": "03636649", "Laptop": "03642806", "Motorbike": "03790512", "Mug": "03797390",
    "Pistol": "03948459", "Rocket": "04099429", "Skateboard": "04225987", "Table": "04379243",
}


def cloud_rows(rng: np.random.Generator, rows: int) -> np.ndarray:
    """``rows`` rows ``x y z nx ny nz``: Gaussian points, unit normals."""
    xyz = rng.normal(size=(rows, 3))
    n = rng.normal(size=(rows, 3))
    return np.concatenate([xyz, n / np.linalg.norm(n, axis=1, keepdims=True)], 1)


def write_modelnet_normal(root: Path, name: str = "modelnet40", classes=("bed", "chair", "desk"),
                          per_split=(("train", 2), ("test", 1)), rows: int = 300,
                          seed: int = 0) -> Path:
    """A ``modelnet40_normal_resampled``-style folder (ids ``<class>_NNNN``)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}_shape_names.txt").write_text("\n".join(classes) + "\n")
    k = 1
    for split, count in per_split:
        ids = []
        for c in classes:
            (root / c).mkdir(exist_ok=True)
            for _ in range(count):
                sid = f"{c}_{k:04d}"
                k += 1
                np.savetxt(root / c / f"{sid}.txt", cloud_rows(rng, rows), fmt="%.6f", delimiter=",")
                ids.append(sid)
        (root / f"{name}_{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def write_modelnet_h5(root: Path, classes=("airplane", "bathtub", "bed", "chair"),
                      sizes=(("train", (5, 4)), ("test", (3,))), points: int = 128,
                      normals: bool = True, seed: int = 0) -> Path:
    """A ``modelnet40_ply_hdf5_2048``-style folder (list files carry a path prefix)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "shape_names.txt").write_text("\n".join(classes) + "\n")
    for split, files in sizes:
        names = []
        for i, b in enumerate(files):
            name = f"ply_data_{split}{i}.h5"
            with h5py.File(root / name, "w") as f:
                f["data"] = rng.normal(size=(b, points, 3)).astype(np.float32)
                f["label"] = (np.arange(b) % len(classes)).astype(np.uint8).reshape(b, 1)
                if normals:
                    f["normal"] = rng.normal(size=(b, points, 3)).astype(np.float32)
            names.append(f"data/modelnet40_ply_hdf5_2048/{name}")
        (root / f"{split}_files.txt").write_text("\n".join(names) + "\n")
    return root


CUBE_V = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
CUBE_F = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]


def off_text(vertices=CUBE_V, faces=CUBE_F, header: str = "OFF\n") -> str:
    """OFF text of a mesh (default: the cube [-1, 1]^3 with outward quads)."""
    lines = [f"{header}{len(vertices)} {len(faces)} 0"]
    lines += [" ".join(f"{c:.6f}" for c in v) for v in vertices]
    lines += [f"{len(f)} " + " ".join(map(str, f)) for f in faces]
    return "\n".join(lines) + "\n"


def write_modelnet_off(root: Path, classes=("airplane", "bed"), per_split=(("train", 2),
                       ("test", 1)), header: str = "OFF") -> Path:
    """A raw ``ModelNet40/<class>/<split>/<class>_NNNN.off`` tree of scaled cubes (``header``
    ``"OFF"``: glued to the counts line, ModelNet's quirk; ``"OFF\\n"``: on its own line)."""
    k = 1
    for split, count in per_split:
        for c in classes:
            d = root / c / split
            d.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                (d / f"{c}_{k:04d}.off").write_text(off_text(CUBE_V * (k + 1), header=header))
                k += 1
    return root


def _part_rows(rng, category: str, rows: int) -> np.ndarray:
    parts = rng.choice(PARTS_OF_CLASS[CATEGORIES.index(category)], size=rows)
    return np.concatenate([cloud_rows(rng, rows), parts[:, None].astype(float)], 1)


def write_shapenet_normal(root: Path, categories=("Airplane", "Cap", "Mug"),
                          per_split=(("train", 2), ("val", 1), ("test", 1)), rows: int = 200,
                          seed: int = 0) -> Path:
    """A ``shapenetcore_partanno_segmentation_benchmark_v0_normal``-style folder."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "synsetoffset2category.txt").write_text(
        "".join(f"{c}\t{s}\n" for c, s in SYNSETS.items()))
    (root / "train_test_split").mkdir(exist_ok=True)
    k = 0
    for split, count in per_split:
        items = []
        for c in categories:
            (root / SYNSETS[c]).mkdir(exist_ok=True)
            for _ in range(count):
                token = f"{k:06x}"
                k += 1
                np.savetxt(root / SYNSETS[c] / f"{token}.txt", _part_rows(rng, c, rows + k),
                           fmt="%.6f")
                items.append(f"shape_data/{SYNSETS[c]}/{token}")
        (root / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps(items))
    return root


def write_shapenet_h5(root: Path, categories=("Airplane", "Chair", "Table"),
                      sizes=(("train", (4,)), ("val", (2,)), ("test", (3,))), points: int = 96,
                      seed: int = 0) -> Path:
    """An ``hdf5_data``-style ShapeNetPart folder (``data``, ``label``, ``pid``)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "all_object_categories.txt").write_text(
        "".join(f"{c}\t{s}\n" for c, s in SYNSETS.items()))
    for split, files in sizes:
        names = []
        for i, b in enumerate(files):
            labels = np.array([CATEGORIES.index(categories[j % len(categories)]) for j in range(b)])
            pid = np.stack([rng.choice(PARTS_OF_CLASS[int(lab)], size=points) for lab in labels])
            name = f"ply_data_{split}{i}.h5"
            with h5py.File(root / name, "w") as f:
                f["data"] = rng.normal(size=(b, points, 3)).astype(np.float32)
                f["label"] = labels.astype(np.uint8).reshape(b, 1)
                f["pid"] = pid.astype(np.uint8)
            names.append(name)
        (root / f"{split}_hdf5_file_list.txt").write_text("\n".join(names) + "\n")
    return root
