import numpy as np
import pytest
import torch

from reldrop3d.data import create_dataset
from reldrop3d.data.synthetic import CLUTTER_MODES, clutter_anchors


@pytest.fixture(scope="module")
def small():
    return create_dataset("synthetic", "train", num_points=256, num_shapes=110, use_normals=True)


def test_sample_interface(small):
    s = small[3]
    assert s["points"].shape == (256, 3) and s["points"].dtype == torch.float32
    assert s["normals"].shape == (256, 3)
    assert s["label"].dtype == torch.int64 and s["label"].shape == ()
    assert s["parts"].shape == (256,) and s["parts"].dtype == torch.int64
    assert int(s["index"]) == 3
    assert small.num_classes == 11 and small.in_channels == 6
    assert torch.equal(small.labels(), torch.stack([small[i]["label"] for i in range(len(small))]))


def test_classes_balanced_and_parts_consistent(small):
    counts = torch.bincount(small.labels(), minlength=small.num_classes)
    assert counts.min() == counts.max() == 10
    assert len(small.part_names) == small.num_parts
    for i in range(len(small)):
        label = int(small[i]["label"])
        present = set(small[i]["parts"].unique().tolist())
        assert present <= set(small.parts_of_class[label])
        assert all(small.part_names[p].startswith(small.classes[label] + "/") for p in present)
    all_parts = sorted(p for ps in small.parts_of_class.values() for p in ps)
    assert all_parts == list(range(small.num_parts))
    for c, ps in small.parts_of_class.items():
        assert len(ps) >= 2, f"class {small.classes[c]} has fewer than two parts"


def test_unit_sphere_and_unit_normals(small):
    r = small.points.norm(dim=-1)
    torch.testing.assert_close(r.amax(1), torch.ones(len(small)))
    assert small.points.mean(1).abs().max() < 1e-5
    torch.testing.assert_close(small.normals.norm(dim=-1), torch.ones(len(small), 256))


def test_normals_point_outward_for_ellipsoids_and_cylinders():
    ds = create_dataset("synthetic", "test", num_points=512, num_shapes=44, use_normals=True, noise=0.0)
    # mug body and lamp pole are convex around their own axis: normal . (p - part centroid) > 0
    for cls, part in (("mug", "mug/body"), ("airplane", "airplane/fuselage")):
        pid = ds.part_names.index(part)
        for i in (ds.labels() == ds.classes.index(cls)).nonzero().squeeze(1).tolist():
            sel = ds.parts[i] == pid
            p, n = ds.points[i][sel], ds.normals[i][sel]
            assert ((p - p.mean(0)) * n).sum(1).gt(0).float().mean() > 0.9


def test_deterministic_by_seed_and_splits_differ():
    a = create_dataset("synthetic", "train", num_points=64, num_shapes=22, seed=1)
    b = create_dataset("synthetic", "train", num_points=64, num_shapes=22, seed=1)
    c = create_dataset("synthetic", "train", num_points=64, num_shapes=22, seed=2)
    t = create_dataset("synthetic", "test", num_points=64, num_shapes=22, seed=1)
    assert torch.equal(a.points, b.points) and torch.equal(a.labels(), b.labels())
    assert not torch.equal(a.points, c.points)
    assert not torch.equal(a.points, t.points)


def test_num_shapes_per_split_dict():
    ds = create_dataset("synthetic", "test", num_points=32, num_shapes={"train": 50, "test": 12})
    assert len(ds) == 12


def test_bounding_box_alone_does_not_separate_classes():
    """A classifier on bounding-box extents must be far from what shape-aware models reach."""
    from sklearn.ensemble import RandomForestClassifier

    tr = create_dataset("synthetic", "train", num_points=256, num_shapes=1100)
    te = create_dataset("synthetic", "test", num_points=256, num_shapes=550)

    def extents(ds):
        e = ds.points.amax(1) - ds.points.amin(1)
        # rotation about y mixes x and z: sort them
        return torch.cat([e[:, [0, 2]].sort(1).values, e[:, 1:2]], 1).numpy()

    clf = RandomForestClassifier(100, random_state=0).fit(extents(tr), tr.labels().numpy())
    acc = clf.score(extents(te), te.labels().numpy())
    assert acc < 0.65, f"bounding-box extents alone classify {acc:.0%} of shapes"
    assert acc > 1.5 / 11  # but they are not meaningless either


def test_clutter_variants():
    kw = dict(num_points=256, num_shapes=44, clutter_points=32)
    biased = create_dataset("synthetic", "test", clutter="biased", **kw)
    shuffled = create_dataset("synthetic", "test", clutter="shuffled", **kw)
    s = biased[0]
    assert s["roi"].dtype == torch.bool and int((~s["roi"]).sum()) == 32
    assert biased.part_names[-1] == "clutter/blob"
    assert (s["parts"][~s["roi"]] == biased.num_parts - 1).all()
    anchors = clutter_anchors(biased.num_classes)
    for ds, own in ((biased, True), (shuffled, False)):
        for i in range(len(ds)):
            blob = ds.points[i][~ds.roi[i]].mean(0)
            nearest = (anchors - blob).norm(dim=1).argmin().item()
            assert (nearest == int(ds.labels()[i])) == own
    assert set(CLUTTER_MODES) == {"none", "biased", "shuffled", "random"}


@pytest.mark.parametrize("kwargs,err", [
    (dict(num_points=0), ValueError),
    (dict(split="holdout"), ValueError),
    (dict(clutter="sometimes"), ValueError),
    (dict(noise=-1.0), ValueError),
    (dict(colour="red"), TypeError),
])
def test_bad_parameters(kwargs, err):
    split = kwargs.pop("split", "train")
    with pytest.raises(err):
        create_dataset("synthetic", split, num_shapes=11, **kwargs)


def test_generation_is_reasonably_fast():
    """Not a timing assert: a smoke check that 1,100 shapes build (benchmarks/ has the numbers)."""
    ds = create_dataset("synthetic", "train", num_points=1024, num_shapes=1100)
    assert np.isfinite(ds.points.numpy()).all()
