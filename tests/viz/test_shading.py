import numpy as np
import pytest

from reldrop3d.viz import fit_camera
from reldrop3d.viz.figure import FigureSpec, Panel, layout_figure
from reldrop3d.viz.render_mpl import render_panel_mpl, splat
from reldrop3d.viz.shading import (
    blinn_phong,
    depth_cue,
    point_diameter,
    point_spacing,
    shade,
    sphere_normals,
)


def test_sphere_normals_face_the_viewer_and_are_unit():
    n, inside = sphere_normals(np.array([0.0, 0.6, 1.0, 1.2]), np.array([0.0, 0.0, 0.0, 0.0]))
    assert inside.tolist() == [True, True, True, False]
    np.testing.assert_allclose(n[0], [0, 0, -1])
    np.testing.assert_allclose(np.linalg.norm(n[:3], axis=1), 1.0)
    assert (n[:3, 2] <= 0).all() and (n[3] == 0).all()


def test_rim_is_darker_than_centre_in_every_direction():
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rim_n, _ = sphere_normals(0.97 * np.cos(t), 0.97 * np.sin(t))
    centre_n, _ = sphere_normals(np.zeros(1), np.zeros(1))
    rim, _ = blinn_phong(rim_n)
    centre, _ = blinn_phong(centre_n)
    assert (rim < centre[0]).all()
    # lit from the upper left: the upper-left rim is brighter than the lower-right one
    ul, _ = blinn_phong(sphere_normals(np.array([-0.7]), np.array([-0.7]))[0])
    lr, _ = blinn_phong(sphere_normals(np.array([0.7]), np.array([0.7]))[0])
    assert ul[0] > lr[0]


def test_shade_keeps_hue_and_range():
    c = shade(np.array([[1.0, 0.0, 0.0], [0.2, 0.4, 0.8]]), np.array([0.5, 2.0]), 0.1)
    np.testing.assert_allclose(c[0], [0.6, 0.1, 0.1])
    assert c.max() <= 1.0 and c.min() >= 0.0


def test_depth_cue_is_monotone_in_depth():
    d = np.random.default_rng(0).uniform(1, 5, size=200)
    f = depth_cue(d, strength=0.3)
    order = np.argsort(d)
    assert (np.diff(f[order]) <= 1e-12).all()
    assert f.max() == pytest.approx(1.0) and f.min() == pytest.approx(0.7)
    np.testing.assert_allclose(depth_cue(np.full(4, 2.0)), 1.0)  # no depth range: no cue
    with pytest.raises(ValueError, match="strength"):
        depth_cue(d, strength=1.0)


def test_point_size_follows_density_and_extent():
    g = np.random.default_rng(0)
    p = g.normal(size=(4096, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    cam = fit_camera(p, 200, 200)
    d_dense, d_sparse = point_diameter(p, cam), point_diameter(p[:1024], cam)
    assert d_sparse / d_dense == pytest.approx(2.0, rel=0.25)  # 4x fewer points: ~2x the size
    # the same cloud in a twice as large viewport: twice the pixels
    assert point_diameter(p[:1024], fit_camera(p, 400, 400)) == pytest.approx(2 * d_sparse,
                                                                             rel=0.02)
    assert point_spacing(p * 3.0) == pytest.approx(3.0 * point_spacing(p), rel=1e-6)
    assert point_spacing(np.zeros((1, 3))) > 0


def test_splat_z_buffer_and_lit_disc():
    # two spheres on the same ray: the nearer one (red) wins, whatever the order
    uv = np.array([[20.0, 20.0], [20.0, 20.0]])
    colors = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    for order in ([0, 1], [1, 0]):
        rgb, z = splat(uv[order], np.array([5.0, 3.0])[order], colors[order],
                       np.array([8.0, 8.0]), 0.1, 40, 40)
        assert rgb[20, 20, 0] > 0.8 and rgb[20, 20, 2] < 0.2
        assert z[20, 20] < 3.0 and np.isinf(z[0, 0])
    # one white disc: bright centre, dark rim
    rgb, _ = splat(np.array([[20.0, 20.0]]), np.array([3.0]), np.ones((1, 3)),
                   np.array([10.0]), 0.1, 40, 40)
    assert rgb[20, 20].mean() > rgb[20, 29].mean() + 0.2 and rgb[28, 20].mean() < 0.6


def test_ghost_points_are_translucent_in_place():
    kept = np.array([[-0.5, 0.0, 0.0]])
    ghost = np.array([[0.5, 0.0, 0.0]])
    panel = Panel(kept, np.array([[1.0, 0.0, 0.0]]), point_size=20, ghost_points=ghost,
                  view=(0.0, 0.0))
    spec = FigureSpec([panel], 200, 120)
    layout_figure(spec)
    img = render_panel_mpl(panel).astype(float) / 255
    u, v = panel.camera.project(ghost)[0][0]
    px = img[int(v), int(u)]
    expected = (1 - panel.ghost_alpha) * 1.0 + panel.ghost_alpha * np.asarray(panel.ghost_color)
    np.testing.assert_allclose(px, expected, atol=0.02)  # flat blend with the white background
    uk, vk = panel.camera.project(kept)[0][0]
    assert img[int(vk), int(uk), 0] > 0.8 and img[int(vk), int(uk), 1] < 0.3  # kept: lit red
