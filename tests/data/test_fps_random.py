import numpy as np

from reldrop3d.data.resample import select_points


def test_fps_random_starts_at_a_seeded_real_point_per_shape():
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(200, 3)).astype(np.float32), rng.normal(size=(150, 3)).astype(np.float32)]
    a = select_points(clouds, 16, "fps_random", seed=1)
    b = select_points(clouds, 16, "fps_random", seed=1)
    c = select_points(clouds, 16, "fps_random", seed=2)
    first = select_points(clouds, 16, "fps")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a[:, 0], first[:, 0])
    for k, cloud in enumerate(clouds):  # every sampled point is a row of its own cloud
        assert all((np.abs(cloud - p).sum(1) == 0).any() for p in a[k])
        assert len(np.unique(a[k], axis=0)) == 16
