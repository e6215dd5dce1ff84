"""OFF reader (real ModelNet meshes, header quirks, odd files, damage) and surface sampling."""

from __future__ import annotations

import numpy as np
import pytest

from reldrop3d.data import DataError
from reldrop3d.data.off import read_off, sample_surface, triangle_areas_normals


def _header_counts(path) -> tuple[int, int]:
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    counts = lines[0][3:].split() or lines[1].split()
    return int(counts[0]), int(counts[1])


@pytest.mark.parametrize("name", ["airplane/train/airplane_0003", "bathtub/train/bathtub_0001",
                                  "bathtub/train/bathtub_0002", "bathtub/train/bathtub_0003",
                                  "bathtub/train/bathtub_0004", "bed/train/bed_0001"])
def test_real_modelnet_meshes(shared_data, name):
    path = shared_data / "ModelNet40_off_sample" / f"{name}.off"
    v, t = read_off(path)
    nv, nf = _header_counts(path)
    assert v.shape == (nv, 3) and v.dtype == np.float64
    assert t.shape[1] == 3 and len(t) >= nf and t.min() >= 0 and t.max() < nv
    lines = path.read_text().splitlines()
    glued = lines[0] != "OFF"
    if name.startswith("bathtub/train/bathtub_000") and name[-1] in "123":
        assert glued and lines[0] == f"OFF{nv} {nf} 0"  # the known ModelNet header quirk
    np.testing.assert_allclose(v[0], [float(x) for x in lines[1 if glued else 2].split()])
    np.testing.assert_allclose(v[-1], [float(x) for x in lines[nv if glued else nv + 1].split()])


@pytest.mark.parametrize("name,nv,ntri", [("comments.off", 8, 12), ("whitespace.off", 8, 12),
                                          ("ballA.off", 1900, 3796)])
def test_edge_case_files(shared_data, name, nv, ntri):
    v, t = read_off(shared_data / "off_edge_cases" / name)
    assert v.shape == (nv, 3) and t.shape == (ntri, 3)
    if name != "ballA.off":  # the cube: 6 quads with colour columns -> 12 triangles
        np.testing.assert_allclose(np.abs(v).max(0), [1.632993, 1.632993, 1.154701])
        area, _ = triangle_areas_normals(v, t)
        side = np.linalg.norm(v[0] - v[1])
        assert area.sum() == pytest.approx(6 * side**2, rel=1e-5)


@pytest.mark.parametrize("text", [
    "OFF 3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",                        # counts on the header line
    "OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",                         # glued
    "# c\n\nOFF\n# c\n3 1 0\n\n0 0 0 # v0\n1 0 0\n0 1 0\n3 0 1 2 # f\n",  # comments, blanks
    "COFF\n3 1 0\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n0 1 0 0 0 255 255\n3 0 1 2\n",
    "NOFF\n3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2 0.1 0.2 0.3\n",
    "OFF\r\n3 1 0\r\n0\t0\t0\r\n1 0 0\r\n0   1 0\r\n3 0 1 2\r\n",       # CRLF and tabs
])
def test_header_and_layout_variants(tmp_path, text):
    p = tmp_path / "m.off"
    p.write_text(text)
    v, t = read_off(p)
    np.testing.assert_array_equal(v, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(t, [[0, 1, 2]])


def test_mixed_polygons_fan_triangulated(tmp_path, build):
    # a triangle, a quad and a pentagon (all in the z=0 plane) plus a 2-vertex "face" (dropped)
    v = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [3, 1, 0], [2.5, 2, 0],
         [2, 1, 0]]
    faces = [[0, 1, 2], [0, 1, 2, 3], [4, 5, 6, 7, 8], [0, 1]]
    p = tmp_path / "mixed.off"
    p.write_text(build.off_text(np.array(v, float), faces))
    _, t = read_off(p)
    assert len(t) == 1 + 2 + 3
    assert [0, 1, 2] in t.tolist() and [0, 2, 3] in t.tolist() and [4, 7, 8] in t.tolist()
    area, normal = triangle_areas_normals(np.array(v, float), t)
    assert area.sum() == pytest.approx(0.5 + 1 + 1.5)
    np.testing.assert_allclose(normal, np.tile([0, 0, 1.0], (6, 1)))


@pytest.mark.parametrize("text,match", [
    ("", "empty OFF file"),
    ("PLY\n3 1 0\n", "not an OFF file"),
    ("OFF\n", "without vertex/face counts"),
    ("OFF\nthree 1 0\n", "bad OFF counts"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n", "truncated OFF file"),
    ("OFF\n3 1 0\n0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n", "malformed vertex row 2"),
    ("OFF\n3 1 0\n0 0 0\n1 0\n0 1 0\n3 0 1 2\n", "vertex row 2 has 2 values"),
    ("OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", "NaN/inf"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "out of range"),
    ("OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 a 2\n", "malformed face row 2"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", "announces 4 vertices"),
    ("OFF\n2 1 0\n0 0 0\n1 0 0\n2 0 1\n", "has no surface"),
    ("4OFF\n3 1 0\n0 0 0 0\n", "not an OFF file"),
])
def test_damaged_files_raise_naming_the_file(tmp_path, text, match):
    p = tmp_path / "bad.off"
    p.write_text(text)
    with pytest.raises(DataError, match=match) as err:
        read_off(p)
    assert str(p) in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_off(tmp_path / "nope.off")
    p = tmp_path / "bin.off"
    p.write_bytes(b"OFF\n\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="bin.off"):
        read_off(p)


def test_surface_samples_lie_on_the_cube_with_face_normals(build):
    v, f = build.cube_vertices, build.cube_faces
    t = np.concatenate([[[q[0], q[i], q[i + 1]] for i in (1, 2)] for q in f])
    pts, nrm = sample_surface(v, t, 4000, np.random.default_rng(0))
    assert pts.shape == (4000, 3) and pts.dtype == np.float32
    np.testing.assert_allclose(np.abs(pts).max(1), 1, atol=1e-6)  # on a face of [-1, 1]^3
    axis = np.abs(pts).argmax(1)
    np.testing.assert_allclose(nrm[np.arange(4000), axis], np.sign(pts[np.arange(4000), axis]))
    assert np.abs(nrm).sum(1) == pytest.approx(np.ones(4000))  # axis-aligned unit normals
    counts = np.bincount(axis, minlength=3) / 4000  # every face pair gets a third
    np.testing.assert_allclose(counts, 1 / 3, atol=0.04)


def test_area_weighting_and_determinism():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [10, 0, 0], [13, 0, 0], [10, 1, 0]], float)
    t = np.array([[0, 1, 2], [3, 4, 5]])  # areas 0.5 and 1.5
    pts, _ = sample_surface(v, t, 20000, np.random.default_rng(1))
    assert (pts[:, 0] >= 10).mean() == pytest.approx(0.75, abs=0.02)
    inside = pts[pts[:, 0] < 10]
    assert (inside[:, :2] >= 0).all() and (inside[:, 0] + inside[:, 1] <= 1 + 1e-6).all()
    again, _ = sample_surface(v, t, 20000, np.random.default_rng(1))
    np.testing.assert_array_equal(pts, again)


def test_zero_area_mesh_and_bad_count():
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float)
    with pytest.raises(DataError, match="zero surface area"):
        sample_surface(v, np.array([[0, 1, 2]]), 10, np.random.default_rng(0), "flat.off")
    with pytest.raises(ValueError, match="num_points"):
        sample_surface(v, np.array([[0, 1, 2]]), 0, np.random.default_rng(0))
