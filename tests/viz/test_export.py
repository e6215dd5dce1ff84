import numpy as np
import pytest
import torch
from PIL import Image

from reldrop3d.data.base import DataError
from reldrop3d.viz.colors import hot_color, neutral_color, relevance_colors
from reldrop3d.viz.export import export_relevance_ply, relevance_overlay, relevance_overlay_png
from reldrop3d.viz.ply import read_ply, write_ply


@pytest.mark.parametrize("binary", [True, False])
def test_relevance_ply_round_trip(tmp_path, sphere_cloud, binary):
    points, relevance = sphere_cloud
    mask = relevance > 0.5
    parts = np.arange(len(points)) % 4
    path = export_relevance_ply(
        tmp_path / "r.ply",
        torch.from_numpy(points),
        torch.from_numpy(relevance),
        normals=points,
        mask=mask,
        parts=parts,
        binary=binary,
    )
    back = read_ply(path)
    np.testing.assert_allclose(back["points"], points, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(back["normals"], points, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(back["scalars"]["relevance"], relevance, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(back["scalars"]["dropped"].astype(bool), mask)
    np.testing.assert_array_equal(back["scalars"]["part"], parts)
    np.testing.assert_allclose(back["colors"], relevance_colors(relevance), atol=0.5 / 255 + 1e-6)


def test_write_ply_validates(tmp_path):
    with pytest.raises(ValueError, match="colors"):
        write_ply(tmp_path / "a.ply", np.zeros((3, 3)), colors=np.full((3, 3), 2.0))
    with pytest.raises(ValueError, match="name"):
        write_ply(tmp_path / "a.ply", np.zeros((3, 3)), scalars={"x": np.zeros(3)})
    with pytest.raises(ValueError, match="2 values"):
        write_ply(tmp_path / "a.ply", np.zeros((3, 3)), scalars={"r": np.zeros(2)})
    assert not (tmp_path / "a.ply").exists()


def test_read_ply_skips_faces_and_big_endian(tmp_path):
    verts = np.array(
        [(0, 0, 0, 7), (1, 0, 0, 8), (0, 1, 0, 9)],
        dtype=[("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("q", ">i2")],
    )
    faces = np.array([(3, 0, 1, 2)], dtype=[("n", "u1"), ("a", ">i4"), ("b", ">i4"), ("c", ">i4")])
    header = (
        b"ply\nformat binary_big_endian 1.0\nelement face 1\n"
        b"property list uchar int vertex_indices\n"
        b"element vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        b"property short q\nend_header\n"
    )
    p = tmp_path / "m.ply"
    p.write_bytes(header + faces.tobytes() + verts.tobytes())
    back = read_ply(p)
    np.testing.assert_array_equal(back["points"][1], [1, 0, 0])
    np.testing.assert_array_equal(back["scalars"]["q"], [7, 8, 9])


@pytest.mark.parametrize(
    "content, match",
    [
        (b"hello\n", "not a PLY"),
        (b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n", "end_header"),
        (
            b"ply\nformat binary_little_endian 1.0\nelement vertex 5\n"
            b"property float x\nproperty float y\nproperty float z\nend_header\n\x00\x00",
            "truncated",
        ),
    ],
)
def test_read_ply_corrupt(tmp_path, content, match):
    p = tmp_path / "bad.ply"
    p.write_bytes(content)
    with pytest.raises(DataError, match=match) as err:
        read_ply(p)
    assert "bad.ply" in str(err.value)


@pytest.mark.open3d
def test_open3d_reads_our_ply(tmp_path, sphere_cloud):
    o3d = pytest.importorskip("open3d")
    points, relevance = sphere_cloud
    path = export_relevance_ply(tmp_path / "r.ply", points, relevance)
    pc = o3d.io.read_point_cloud(str(path))
    np.testing.assert_allclose(np.asarray(pc.points), points, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(pc.colors), relevance_colors(relevance), atol=0.5 / 255 + 1e-6
    )


def test_overlay_heat_where_relevant(tmp_path):
    img = torch.rand(3, 16, 20)
    rel = torch.zeros(3, 16, 20)
    rel[:, 4, 5] = 1.0  # hot pixel
    rel[:, 10, 10] = -0.5
    out = relevance_overlay(img, rel, alpha=1.0)
    assert out.shape == (16, 20, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[4, 5], np.array(hot_color()) * 255, atol=1)
    # zero relevance: the grey image shows through unchanged
    grey = ((img - img.min()) / (img.max() - img.min())).mean(0).numpy()
    np.testing.assert_allclose(out[0, 0], [grey[0, 0] * 255] * 3, atol=1)
    assert out[10, 10, 2] > out[10, 10, 0]  # negative: cold (blue) side
    path = relevance_overlay_png(img, rel, tmp_path / "o.png", scale=3)
    assert np.asarray(Image.open(path)).shape == (48, 60, 3)


def test_overlay_constant_relevance_is_plain_image():
    img = np.linspace(0, 1, 12).reshape(3, 4)
    out = relevance_overlay(img, np.zeros((3, 4)))
    np.testing.assert_allclose(out[..., 0], np.rint(img * 255))
    assert neutral_color() is not None


@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3)])
def test_overlay_shape_mismatch(shape):
    with pytest.raises(ValueError, match="does not match"):
        relevance_overlay(np.zeros((3, 4)), np.zeros(shape))
