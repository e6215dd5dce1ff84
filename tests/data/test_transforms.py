import functools
import math

import pytest
import torch

from reldrop3d.data.transforms import (
    Compose,
    default_train_augmentation,
    gather_points,
    jitter,
    normalize_unit_sphere,
    point_permutation,
    random_rotate_y,
    random_scale,
    random_shift,
    rotation_about_y,
    shuffle_points,
)


@pytest.fixture
def cloud():
    gen = torch.Generator().manual_seed(0)
    xyz = torch.randn(4, 100, 3, generator=gen) * 3 + 1
    n = torch.randn(4, 100, 3, generator=gen)
    return torch.cat([xyz, n / n.norm(dim=-1, keepdim=True)], -1)


def test_normalize_unit_sphere_single_and_batched(cloud):
    out = normalize_unit_sphere(cloud)
    torch.testing.assert_close(out[..., :3].norm(dim=-1).amax(1), torch.ones(4))
    assert out[..., :3].mean(1).abs().max() < 1e-5
    torch.testing.assert_close(normalize_unit_sphere(cloud[0]), out[0])
    torch.testing.assert_close(out[..., 3:], cloud[..., 3:])


@pytest.mark.parametrize("scale", [1e-30, 1e20, 1e30, 1e36])
def test_normalize_unit_sphere_cannot_overflow(cloud, scale):
    """float32 squares of coordinates >= ~1.8e19 are inf: a naive norm collapses the shape."""
    scaled = torch.cat([cloud[..., :3] * scale, cloud[..., 3:]], -1)
    out = normalize_unit_sphere(scaled)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, normalize_unit_sphere(cloud), rtol=1e-4, atol=1e-5)
    one_far = cloud.clone()
    one_far[1, 7, 0] = 1e20  # one absurd point: the others squeeze together but stay apart
    out = normalize_unit_sphere(one_far)
    assert torch.isfinite(out).all() and out[1, :, :3].norm(dim=-1).amax() == pytest.approx(1)


def test_rotation_keeps_norms_and_y_and_rotates_normals(cloud):
    out = random_rotate_y(cloud, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out[..., :3].norm(dim=-1), cloud[..., :3].norm(dim=-1))
    torch.testing.assert_close(out[..., 1], cloud[..., 1])
    # normals stay perpendicular-consistent: angle between point and normal is preserved
    torch.testing.assert_close((out[..., :3] * out[..., 3:]).sum(-1),
                               (cloud[..., :3] * cloud[..., 3:]).sum(-1))
    r = rotation_about_y(torch.tensor([math.pi / 2]))
    torch.testing.assert_close(torch.tensor([1.0, 0, 0]) @ r[0].T, torch.tensor([0.0, 0, -1.0]),
                               atol=1e-6, rtol=0)


def test_scale_range_and_anisotropic_normals(cloud):
    gen = torch.Generator().manual_seed(2)
    out = random_scale(cloud, 0.8, 1.25, generator=gen)
    ratio = out[..., :3] / cloud[..., :3]
    assert ratio.min() >= 0.8 - 1e-5 and ratio.max() <= 1.25 + 1e-5
    out = random_scale(cloud, 0.5, 2.0, anisotropic=True, generator=gen)
    torch.testing.assert_close(out[..., 3:].norm(dim=-1), torch.ones(4, 100))
    with pytest.raises(ValueError):
        random_scale(cloud, 1.5, 1.0)


def test_shift_and_jitter_bounds(cloud):
    d = random_shift(cloud, 0.1)[..., :3] - cloud[..., :3]
    assert d.abs().max() <= 0.1 + 1e-6 and (d - d[:, :1]).abs().max() < 1e-5
    j = jitter(cloud, 0.01, 0.05)[..., :3] - cloud[..., :3]
    assert 0 < j.abs().max() <= 0.05 + 1e-6


def test_shuffle_is_a_permutation(cloud):
    out = shuffle_points(cloud, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(out, cloud)
    torch.testing.assert_close(out.sort(1).values, cloud.sort(1).values)


def test_compose_and_default_augmentation(cloud):
    aug = default_train_augmentation(rotate=True)
    out = aug(cloud[..., :3])
    assert out.shape == (4, 100, 3) and torch.isfinite(out).all()
    assert Compose([])(cloud) is cloud


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="expected points"):
        jitter(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected points"):
        normalize_unit_sphere(torch.randn(10, 4))


def test_anisotropic_scale_keeps_normals_perpendicular_to_the_surface():
    # points on the plane x + y + z = 0 with its normal; any axis scaling keeps them on a plane
    gen = torch.Generator().manual_seed(4)
    uv = torch.randn(3, 50, 2, generator=gen)
    a, b = torch.tensor([1.0, -1, 0]), torch.tensor([1.0, 1, -2])
    xyz = uv[..., :1] * a + uv[..., 1:] * b
    n = torch.full((3, 50, 3), 3 ** -0.5)
    out = random_scale(torch.cat([xyz, n], -1), 0.5, 2.0, anisotropic=True, generator=gen)
    p, nn = out[..., :3], out[..., 3:]
    torch.testing.assert_close((p * nn).sum(-1), torch.zeros(3, 50), atol=1e-5, rtol=0)


def test_generator_makes_augmentation_reproducible(cloud):
    a = default_train_augmentation(rotate=True, generator=torch.Generator().manual_seed(7))
    b = default_train_augmentation(rotate=True, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a(cloud), b(cloud))
    c = default_train_augmentation(rotate=True, generator=torch.Generator().manual_seed(8))
    assert not torch.allclose(a(cloud), c(cloud))
    assert "random_scale(low=0.8, high=1.25, anisotropic=True" in repr(a)


def test_compose_on_a_batch_dict_keeps_parts_aligned(cloud):
    parts = torch.arange(100).repeat(4, 1)
    batch = {"points": cloud[..., :3], "normals": cloud[..., 3:], "parts": parts,
             "label": torch.arange(4), "index": torch.arange(4)}
    aug = default_train_augmentation(rotate=True, shuffle=True,
                                     generator=torch.Generator().manual_seed(8))
    out = aug(batch)
    assert set(out) == set(batch) and out["points"] is not batch["points"]
    assert torch.equal(out["label"], batch["label"]) and batch["parts"] is parts
    assert not torch.equal(out["parts"], parts)
    # the part id is the original point index: undoing the permutation gives exactly what the
    # same augmentation without the final shuffle gives (same generator draws before it)
    back = out["parts"].argsort(1)
    ref = default_train_augmentation(rotate=True, generator=torch.Generator().manual_seed(8))(
        batch)
    torch.testing.assert_close(gather_points(out["points"], back), ref["points"])
    torch.testing.assert_close(gather_points(out["normals"], back), ref["normals"])
    torch.testing.assert_close(ref["normals"].norm(dim=-1), torch.ones(4, 100))


def test_compose_on_a_single_sample_dict(cloud):
    sample = {"points": cloud[0, :, :3], "parts": torch.arange(100), "label": torch.tensor(3)}
    out = Compose([functools.partial(shuffle_points, generator=torch.Generator().manual_seed(1))])(
        sample)
    torch.testing.assert_close(out["points"], sample["points"][out["parts"]])
    assert out["label"].item() == 3


def test_point_permutation_and_gather():
    perm = point_permutation(3, 10, torch.Generator().manual_seed(0))
    assert perm.shape == (3, 10) and (perm.sort(1).values == torch.arange(10)).all()
    x = torch.arange(30.0).view(3, 10)
    torch.testing.assert_close(gather_points(x, perm), x.gather(1, perm))


@pytest.mark.parametrize("fn,kw", [(random_scale, dict(low=0, high=1)),
                                   (jitter, dict(sigma=-1.0)), (jitter, dict(clip=0.0))])
def test_impossible_parameters(cloud, fn, kw):
    with pytest.raises(ValueError):
        fn(cloud, **kw)
