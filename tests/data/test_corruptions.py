"""ModelNet-C corruptions: each tested for what it promises (published counts and parameters,
rotations stay rotations, every severity harsher than the one before), plus invariants over every
registered corruption (determinism, labels and normals follow the points, bad input)."""

from __future__ import annotations

import math

import pytest
import torch

from reldrop3d.data import create_dataset
from reldrop3d.data.corruptions import (
    ADD_GLOBAL_POINTS,
    ADD_LOCAL_POINTS,
    ADD_LOCAL_SIGMA,
    DROPOUT_GLOBAL_RATE,
    DROPOUT_LOCAL_POINTS,
    JITTER_SIGMA,
    MAX_CLUSTERS,
    ROTATE_MAX_ANGLE,
    SCALE_MAX,
    SEVERITIES,
    check_corruption_names,
    cluster_sizes,
    corrupt,
    corruption_generator,
    follow,
    list_corruptions,
    register_corruption,
    rotation_matrices,
)

NAMES = list_corruptions()


@pytest.fixture(scope="module")
def clouds():
    ds = create_dataset("synthetic", "test", num_points=1024, num_shapes=48, use_normals=True)
    return ds.points.clone(), ds.normals.clone(), ds.parts.clone()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_registry_holds_the_seven_modelnet_c_corruptions():
    assert NAMES == ["scale", "jitter", "rotate", "dropout_global", "dropout_local", "add_global",
                     "add_local"]


def test_published_parameters():
    assert SCALE_MAX == (1.6, 1.7, 1.8, 1.9, 2.0)
    assert JITTER_SIGMA == (0.01, 0.02, 0.03, 0.04, 0.05)
    assert [round(math.degrees(a), 6) for a in ROTATE_MAX_ANGLE] == [6, 12, 18, 24, 30]
    assert DROPOUT_GLOBAL_RATE == (0.25, 0.375, 0.5, 0.625, 0.75)
    assert DROPOUT_LOCAL_POINTS == ADD_LOCAL_POINTS == (100, 200, 300, 400, 500)
    assert ADD_GLOBAL_POINTS == (10, 20, 30, 40, 50)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_same_seed_same_output_other_seed_other_output(clouds, name, severity):
    pts, nrm, _ = clouds
    a = corrupt(name, pts[:8], severity, gen(3), nrm[:8])
    b = corrupt(name, pts[:8], severity, gen(3), nrm[:8])
    c = corrupt(name, pts[:8], severity, gen(4), nrm[:8])
    assert torch.equal(a.points, b.points) and torch.equal(a.source, b.source)
    assert torch.equal(a.normals, b.normals)
    assert not torch.equal(a.points, c.points)
    assert torch.isfinite(a.points).all() and a.points.dtype == pts.dtype


@pytest.mark.parametrize("name", NAMES)
def test_labels_and_normals_follow_the_points(clouds, name):
    pts, nrm, parts = clouds
    out = corrupt(name, pts[:8], 3, gen(), nrm[:8])
    assert out.source.shape == out.points.shape[:2] and out.normals.shape == out.points.shape
    kept = out.source >= 0
    labels = follow(parts[:8], out.source)
    assert torch.equal(labels[kept], parts[:8].gather(1, out.source.clamp(min=0))[kept])
    assert (labels[~kept] == -1).all()
    assert torch.allclose(out.normals.norm(dim=-1), torch.ones(()), atol=1e-5)
    if name.startswith("dropout"):  # removed points: the kept ones are exact copies
        assert torch.equal(out.points, pts[:8].gather(1, out.source.unsqueeze(-1).expand(-1, -1, 3)))
        assert torch.equal(out.normals, nrm[:8].gather(1, out.source.unsqueeze(-1).expand(-1, -1, 3)))
    if name.startswith("add"):  # original points first and unchanged, added ones last
        n = pts.shape[1]
        assert torch.equal(out.points[:, :n], pts[:8]) and (out.source[:, n:] == -1).all()
        assert torch.equal(out.source[:, :n], torch.arange(n).expand(8, n))


def test_corruption_generator_streams_are_separate_and_reproducible():
    a = torch.rand(4, generator=corruption_generator(0, "jitter", 1))
    assert torch.equal(a, torch.rand(4, generator=corruption_generator(0, "jitter", 1)))
    for other in (corruption_generator(1, "jitter", 1), corruption_generator(0, "jitter", 2),
                  corruption_generator(0, "scale", 1)):
        assert not torch.equal(a, torch.rand(4, generator=other))


def test_rotate_is_a_rotation_within_the_published_angles(clouds):
    pts, nrm, _ = clouds
    for s in SEVERITIES:
        out = corrupt("rotate", pts, s, gen(s), nrm)
        r = out.info["rotation"]
        eye = torch.eye(3, dtype=r.dtype).expand_as(r)
        assert torch.allclose(r.transpose(1, 2) @ r, eye, atol=1e-12)
        assert torch.allclose(torch.linalg.det(r), torch.ones(len(r), dtype=r.dtype), atol=1e-12)
        assert out.info["angles"].abs().max() <= ROTATE_MAX_ANGLE[s - 1]
        # the output is exactly points @ R: recover R by least squares
        fit = torch.linalg.lstsq(pts.double(), out.points.double()).solution
        assert torch.allclose(fit, r, atol=1e-5)
        assert torch.allclose(out.normals.double(), nrm.double() @ r, atol=1e-5)
    # Rz Ry Rx convention
    a = torch.tensor([[0.3, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(rotation_matrices(a)[0, 1:, 1:],
                          torch.tensor([[math.cos(0.3), -math.sin(0.3)],
                                        [math.sin(0.3), math.cos(0.3)]], dtype=torch.float64))


def test_scale_factors_and_unit_sphere(clouds):
    pts, _, _ = clouds
    for s in SEVERITIES:
        out = corrupt("scale", pts, s, gen(s))
        f = out.info["factors"]
        assert f.shape == (len(pts), 3) and (f >= 1 / SCALE_MAX[s - 1]).all() and (f <= SCALE_MAX[s - 1]).all()
        assert torch.allclose(out.points.norm(dim=-1).amax(1), torch.ones(len(pts)), atol=1e-5)
        assert torch.allclose(out.points.mean(1), torch.zeros(3), atol=1e-5)


def test_jitter_noise_has_the_published_sigma(clouds):
    pts, nrm, _ = clouds
    for s in SEVERITIES:
        out = corrupt("jitter", pts, s, gen(s), nrm)
        assert (out.points - pts).std().item() == pytest.approx(JITTER_SIGMA[s - 1], rel=0.02)
        assert torch.equal(out.normals, nrm)


def test_dropout_global_keeps_the_published_share(clouds):
    pts, _, _ = clouds
    for s, rate in zip(SEVERITIES, DROPOUT_GLOBAL_RATE):
        out = corrupt("dropout_global", pts, s, gen(s))
        assert out.points.shape == (len(pts), int(1024 * (1 - rate)), 3)
        assert all(len(set(row.tolist())) == row.numel() for row in out.source)  # distinct points


def test_dropout_local_removes_the_published_number_in_nearest_clusters(clouds):
    pts, _, _ = clouds
    counts = set()
    for s, total in zip(SEVERITIES, DROPOUT_LOCAL_POINTS):
        out = corrupt("dropout_local", pts, s, gen(s))
        info = out.info
        assert out.points.shape == (len(pts), 1024 - total, 3)
        assert torch.equal(info["sizes"].sum(1), torch.full((len(pts),), total))
        assert ((info["count"] >= 1) & (info["count"] <= MAX_CLUSTERS)).all()
        counts |= set(info["count"].tolist())
        # clusters beyond the drawn count are empty
        assert (info["sizes"][torch.arange(MAX_CLUSTERS) >= info["count"].unsqueeze(1)] == 0).all()
        for b in range(len(pts)):
            of = info["cluster_of"][b]
            assert torch.equal(torch.bincount(of[of >= 0], minlength=MAX_CLUSTERS), info["sizes"][b])
            for c in range(MAX_CLUSTERS):
                members = of == c
                if not members.any():
                    continue
                centre = pts[b, info["centres"][b, c]]
                assert of[info["centres"][b, c]] == c  # the centre goes with its cluster
                d = (pts[b] - centre).norm(dim=-1)
                later = (of < 0) | (of > c)  # still there when cluster c was cut
                assert d[members].max() <= d[later].min() + 1e-6
    assert len(counts) >= 5  # the number of clusters varies over 1..7


def test_add_global_adds_the_published_number_inside_the_unit_ball(clouds):
    pts, _, _ = clouds
    for s, k in zip(SEVERITIES, ADD_GLOBAL_POINTS):
        out = corrupt("add_global", pts, s, gen(s))
        added = out.points[:, 1024:]
        assert added.shape == (len(pts), k, 3)
        assert (added.norm(dim=-1) <= 1 + 1e-6).all()
        assert (added.abs() <= 1).all()  # so also inside the unit cube
    # uniform in the ball: P(|p| < 1/2) = 1/8
    many = corrupt("add_global", pts, 5, gen(9)).points[:, 1024:].reshape(-1, 3)
    assert (many.norm(dim=-1) < 0.5).double().mean().item() == pytest.approx(1 / 8, abs=0.03)


def test_add_local_clusters_around_cloud_points(clouds):
    pts, _, _ = clouds
    for s, total in zip(SEVERITIES, ADD_LOCAL_POINTS):
        out = corrupt("add_local", pts, s, gen(s))
        info = out.info
        added = out.points[:, 1024:]
        assert added.shape == (len(pts), total, 3)
        assert (added.norm(dim=-1) <= 1 + 1e-6).all()
        assert torch.equal(info["sizes"].sum(1), torch.full((len(pts),), total))
        assert ((info["sigma"] >= ADD_LOCAL_SIGMA[0]) & (info["sigma"] <= ADD_LOCAL_SIGMA[1])).all()
        for b in range(len(pts)):  # distinct centres; added points lie near their centre
            assert len(set(info["centres"][b].tolist())) == MAX_CLUSTERS
            centre = pts[b, info["centres"][b, info["assign"][b]]]
            q = added[b]
            unfolded = q / (q ** 2).sum(-1, keepdim=True)  # undo p -> p / |p|^2 where it applied
            dist = torch.minimum((q - centre).norm(dim=-1), (unfolded - centre).norm(dim=-1))
            sigma = info["sigma"][b, info["assign"][b]]
            assert (dist < 6 * sigma).all()


def test_cluster_sizes_are_multinomial():
    sizes, assign, count = cluster_sizes(2000, 300, gen())
    assert torch.equal(sizes.sum(1), torch.full((2000,), 300))
    assert set(count.tolist()) == set(range(1, MAX_CLUSTERS + 1))
    assert (assign < count.unsqueeze(1)).all()
    one = sizes[count == 1]
    assert (one[:, 0] == 300).all()


def severity_measure(name, pts, out):
    """Each corruption's own measure of harshness, averaged over the clouds."""
    if name == "scale":
        f = out.info["factors"]
        return (f.amax(1) / f.amin(1)).log().mean().item()
    if name == "jitter":
        return (out.points - pts).pow(2).mean().sqrt().item()
    if name == "rotate":
        r = out.info["rotation"]
        return torch.arccos(((r.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)).mean().item()
    if name.startswith("dropout"):
        return pts.shape[1] - out.points.shape[1]
    if name.startswith("add"):
        return out.points.shape[1] - pts.shape[1]
    raise AssertionError(name)


@pytest.mark.parametrize("name", NAMES)
def test_each_severity_is_harsher_than_the_previous(clouds, name):
    pts, _, _ = clouds
    if name in ("scale", "jitter", "rotate"):  # random strengths: average over many clouds
        pts = torch.randn(4000, 16, 3, generator=gen(1))
    measures = [severity_measure(name, pts, corrupt(name, pts, s, corruption_generator(0, name, s)))
                for s in SEVERITIES]
    assert all(b > a for a, b in zip(measures, measures[1:])), measures


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(2, 10, 2), r"\(B, N, 3\)"),
    (torch.zeros(2, 0, 3), "empty"),
    (torch.full((1, 4, 3), float("nan")), "NaN"),
])
def test_bad_points(bad, match):
    with pytest.raises(ValueError, match=match):
        corrupt("jitter", bad, 1)


def test_bad_severity_name_and_size(clouds):
    pts, _, _ = clouds
    for sev in (0, 6, True, 2.5):
        with pytest.raises(ValueError, match="severity"):
            corrupt("scale", pts[:2], sev)
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*dropout_local"):
        corrupt("fog", pts[:2], 1)
    with pytest.raises(ValueError, match=r"unknown corruption\(s\) 'fog'"):
        check_corruption_names(["scale", "fog"])
    with pytest.raises(ValueError, match="only 256.*1024-point"):
        corrupt("dropout_local", pts[:2, :256], 3)
    with pytest.raises(ValueError, match="normals"):
        corrupt("rotate", pts[:2], 1, normals=pts[:1])


def test_register_a_new_corruption_is_listed(clouds):
    @register_corruption("_test_identity", "nothing", (0, 0, 0, 0, 0), supports_labels=False)
    def ident(points, severity, gen, normals=None):
        from reldrop3d.data.corruptions import Corrupted

        return Corrupted(points, normals, torch.arange(points.shape[1]).expand(points.shape[:2]), {})

    try:
        assert "_test_identity" in list_corruptions()
        assert torch.equal(corrupt("_test_identity", clouds[0][:1], 1).points, clouds[0][:1])
    finally:
        from reldrop3d.data.corruptions import CORRUPTIONS

        CORRUPTIONS._factories.pop("_test_identity")


def test_registered_values_are_the_published_parameters():
    """The per-severity values of each op (what reports and cache fingerprints use)."""
    from reldrop3d.data.corruptions import get_corruption

    published = {"scale": SCALE_MAX, "jitter": JITTER_SIGMA, "rotate": ROTATE_MAX_ANGLE,
                 "dropout_global": DROPOUT_GLOBAL_RATE, "dropout_local": DROPOUT_LOCAL_POINTS,
                 "add_global": ADD_GLOBAL_POINTS, "add_local": ADD_LOCAL_POINTS}
    for name, values in published.items():
        assert get_corruption(name).values == values, name


@pytest.mark.parametrize("name", NAMES)
def test_input_is_not_modified(clouds, name):
    pts, nrm, _ = clouds
    p, n = pts[:4].clone(), nrm[:4].clone()
    corrupt(name, p, 5, gen(), n)
    assert torch.equal(p, pts[:4]) and torch.equal(n, nrm[:4])


def test_jitter_is_not_clipped_and_scale_renormalises_exactly(clouds):
    pts, _, _ = clouds
    noise = corrupt("jitter", pts, 1, gen()).points - pts
    assert noise.abs().max() > 4 * JITTER_SIGMA[0]  # a clipped jitter (PointNet's) stops at 5 sigma
    out = corrupt("scale", pts, 5, gen(7))
    scaled = pts * out.info["factors"].unsqueeze(1)
    centred = scaled - scaled.mean(1, keepdim=True)
    want = centred / centred.norm(dim=-1).amax(1).view(-1, 1, 1)
    torch.testing.assert_close(out.points, want)


def test_dropout_local_clusters_per_cloud_are_one_to_seven():
    """Over many clouds, the drawn cluster count takes every value 1..7 about equally often."""
    pts = torch.randn(700, 1024, 3, generator=gen(2))
    info = corrupt("dropout_local", pts, 1, gen(3)).info
    freq = torch.bincount(info["count"], minlength=MAX_CLUSTERS + 1)[1:].double() / 700
    assert torch.allclose(freq, torch.full((MAX_CLUSTERS,), 1 / 7, dtype=torch.float64), atol=0.05)
    nonempty = (info["sizes"] > 0).sum(1)
    assert (nonempty <= info["count"]).all() and (nonempty >= 1).all()
