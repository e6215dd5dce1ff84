import numpy as np
import pytest

from reldrop3d.data.base import DataError
from reldrop3d.viz.io import read_point_cloud
from reldrop3d.viz.ply import write_ply

PTS = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, -1.0], [0.25, 2.0, 0.0], [3.0, 1.0, 1.0]])


def _write(tmp_path, kind):
    p = tmp_path / f"cloud.{kind}"
    if kind == "txt":
        np.savetxt(p, np.hstack([PTS, PTS]), delimiter=",", fmt="%.6f")  # ModelNet40 rows
    elif kind == "xyz":
        np.savetxt(p, PTS)
    elif kind == "npy":
        np.save(p, PTS.astype(np.float32))
    elif kind == "npz":
        np.savez(p, points=PTS, relevance=np.arange(4.0))
    elif kind == "ply":
        write_ply(p, PTS, scalars={"relevance": np.arange(4.0)})
    elif kind == "pcd":
        head = (
            "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\n"
            "COUNT 1 1 1 1\nWIDTH 4\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 4\nDATA binary\n"
        )
        rec = np.zeros(4, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4")])
        rec["x"], rec["y"], rec["z"], rec["intensity"] = (
            PTS[:, 0],
            PTS[:, 1],
            PTS[:, 2],
            np.arange(4.0),
        )
        p.write_bytes(head.encode() + rec.tobytes())
    elif kind == "off":
        p.write_text("OFF\n4 0 0\n" + "\n".join(" ".join(map(str, r)) for r in PTS) + "\n")
    return p


@pytest.mark.parametrize("kind", ["txt", "xyz", "npy", "npz", "ply", "pcd", "off"])
def test_read_formats(tmp_path, kind):
    out = read_point_cloud(_write(tmp_path, kind))
    np.testing.assert_allclose(out["points"], PTS, atol=1e-6)
    if kind == "txt":
        np.testing.assert_allclose(out["normals"], PTS, atol=1e-6)
    if kind in ("npz", "ply"):
        np.testing.assert_allclose(out["scalars"]["relevance"], np.arange(4.0))
    if kind == "pcd":
        np.testing.assert_allclose(out["scalars"]["intensity"], np.arange(4.0))


def test_off_mesh_is_sampled_on_surface(tmp_path):
    p = tmp_path / "tri.off"
    p.write_text(
        "OFF4 2 0\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 3 2\n"
    )  # ModelNet-style header
    out = read_point_cloud(p, mesh_samples=500)
    pts = out["points"]
    assert pts.shape == (500, 3)
    np.testing.assert_allclose(pts[:, 2], 0)
    assert pts[:, :2].min() >= 0 and pts[:, :2].max() <= 1
    assert abs(pts[:, 0].mean() - 0.5) < 0.06  # uniform over the unit square


@pytest.mark.parametrize(
    "name, content, error",
    [
        ("a.obj", "x", DataError),
        ("a.txt", "1 2\n3 4\n", DataError),
        ("a.txt", "a b c\n", DataError),
        ("a.off", "NOFF\n", DataError),
        ("a.txt", "nan 1 2\n", DataError),
        ("a.npy", "garbage", DataError),
    ],
)
def test_bad_files(tmp_path, name, content, error):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(error, match=name):
        read_point_cloud(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ply"):
        read_point_cloud(tmp_path / "nope.ply")


def test_real_modelnet_and_shapenetpart_text(shared_data):
    out = read_point_cloud(shared_data / "modelnet40_normal_resampled" / "chair" / "chair_0391.txt")
    assert out["points"].shape == (10000, 3) and out["normals"].shape == (10000, 3)
    np.testing.assert_allclose(np.linalg.norm(out["normals"], axis=1), 1.0, atol=1e-2)
    cap_dir = shared_data / "shapenetpart_cap_sample" / "02954340"
    cap = read_point_cloud(cap_dir / "cap_train_00.txt")
    assert set(np.unique(cap["scalars"]["part"])) <= {6, 7}
    assert len(cap["points"]) == len(cap["scalars"]["part"])


@pytest.mark.parametrize(
    "rel",
    ["ModelNet40_off_sample/bathtub/train/bathtub_0001.off",  # "OFF3514 3546 0" header
     "ModelNet40_off_sample/airplane/train/airplane_0003.off",
     "off_edge_cases/comments.off", "off_edge_cases/whitespace.off", "off_edge_cases/ballA.off"],
)
def test_real_off_meshes(shared_data, rel):
    out = read_point_cloud(shared_data / rel, mesh_samples=512)
    pts = out["points"]
    assert pts.shape == (512, 3) and np.isfinite(pts).all()
    assert np.ptp(pts, axis=0).max() > 0  # a surface, not a point


@pytest.mark.open3d
@pytest.mark.parametrize("suffix", ["pcd", "ply"])
@pytest.mark.parametrize("ascii_", [True, False])
def test_reads_files_written_by_open3d(tmp_path, suffix, ascii_):
    o3d = pytest.importorskip("open3d")
    rng = np.random.default_rng(0)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(rng.normal(size=(40, 3))))
    pc.colors = o3d.utility.Vector3dVector(rng.uniform(size=(40, 3)))
    pc.normals = o3d.utility.Vector3dVector(rng.normal(size=(40, 3)))
    path = tmp_path / f"o3d.{suffix}"
    assert o3d.io.write_point_cloud(str(path), pc, write_ascii=ascii_)
    out = read_point_cloud(path)
    np.testing.assert_allclose(out["points"], np.asarray(pc.points), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["normals"], np.asarray(pc.normals), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["colors"], np.asarray(pc.colors), atol=1 / 255 + 1e-6)
