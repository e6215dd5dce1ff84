import numpy as np
import pytest
from PIL import Image

from reldrop3d.viz import (
    fit_camera,
    hot_color,
    relevance_figure,
    render_figure,
    render_relevance_png,
    resolve_backend,
)
from reldrop3d.viz.figure import BACKGROUND, Colorbar, FigureSpec, Panel, layout_figure
from reldrop3d.viz.shading import blinn_phong, shade

BG = np.rint(np.array(BACKGROUND) * 255).astype(int)
BACKENDS = ["matplotlib", pytest.param("open3d", marks=pytest.mark.open3d)]


@pytest.fixture
def use_backend(request):
    name = request.param
    if name == "open3d":
        request.getfixturevalue("open3d_renderer")
    return name


def hot_on_nearest(points, relevance, width, height):
    """Relevance whose maximum sits on the point nearest to the camera (so it is not hidden)."""
    cam = fit_camera(points, width, height)
    _, depth = cam.project(points)
    r = relevance.copy()
    i = int(np.argmin(depth))
    r[i] = np.abs(r).max() * 2
    return r, i


def pixel_of(spec, index):
    rect = layout_figure(spec)[0]
    uv, _ = spec.panels[0].camera.project(spec.panels[0].points)
    u, v = uv[index]
    return int(rect.y + v), int(rect.x + u)


@pytest.mark.parametrize("use_backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("size", [(320, 240), (257, 301)])
def test_render_png_hot_pixel_at_most_relevant_point(tmp_path, sphere_cloud, use_backend, size):
    points, relevance = sphere_cloud
    width, height = size
    # the viewport excludes title and colour bar, so fit the camera the figure will use
    spec = relevance_figure(points, relevance, title="t", width=width, height=height)
    rect = layout_figure(spec)[0]
    r, i = hot_on_nearest(points, relevance, rect.w, rect.h)
    path = render_relevance_png(points, r, tmp_path / "sub" / "rel.png", title="t",
                                backend=use_backend, width=width, height=height)
    img = np.asarray(Image.open(path).convert("RGB"))
    assert path.stat().st_size > 1000
    assert img.shape == (height, width, 3)
    assert (np.abs(img.astype(int) - BG).max(-1) > 40).mean() > 0.02  # points, not a blank page
    spec = relevance_figure(points, r, title="t", width=width, height=height)
    y, x = pixel_of(spec, i)
    # the front-facing centre of the nearest sphere: the hot colour, lit (matplotlib) or flat
    # (Open3D points); the nearest point has no depth-cue darkening
    expected = np.array(hot_color())
    if use_backend == "matplotlib":
        expected = shade(expected, *blinn_phong(np.array([0.0, 0.0, -1.0])))
    np.testing.assert_allclose(img[y, x], expected * 255, atol=30)


@pytest.mark.parametrize("use_backend", BACKENDS, indirect=True)
def test_backends_agree_on_where_points_land(sphere_cloud, use_backend):
    points, _ = sphere_cloud
    colors = np.tile([0.0, 0.0, 1.0], (len(points), 1))
    cam = fit_camera(points, 200, 160)
    spec = FigureSpec([Panel(points, colors, camera=cam, point_size=4)], 200, 160)
    img = render_figure(spec, use_backend)
    uv, depth = cam.project(points)
    drawn = np.abs(img.astype(int) - BG).max(-1) > 40
    ys, xs = np.nonzero(drawn)
    # the drawn region's bounding box matches the projected points' box within the point size
    assert abs(xs.min() - uv[:, 0].min()) < 4 and abs(xs.max() - uv[:, 0].max()) < 4
    assert abs(ys.min() - uv[:, 1].min()) < 4 and abs(ys.max() - uv[:, 1].max()) < 4


@pytest.mark.open3d
def test_open3d_and_matplotlib_images_match(sphere_cloud, open3d_renderer):
    points, relevance = sphere_cloud
    spec_a = relevance_figure(points, relevance, width=240, height=200)
    spec_b = relevance_figure(points, relevance, width=240, height=200)
    a = render_figure(spec_a, "open3d").astype(int)
    b = render_figure(spec_b, "matplotlib").astype(int)
    drawn_a = np.abs(a - BG).max(-1) > 40
    drawn_b = np.abs(b - BG).max(-1) > 40
    overlap = (drawn_a & drawn_b).sum() / max(1, (drawn_a | drawn_b).sum())
    assert overlap > 0.6  # round vs square points: similar coverage, same place


@pytest.mark.parametrize("use_backend", BACKENDS, indirect=True)
def test_viewport_background_is_exact(sphere_cloud, use_backend):
    points, relevance = sphere_cloud
    spec = relevance_figure(points, relevance, width=200, height=160)
    img = render_figure(spec, use_backend)
    rect = layout_figure(spec)[0]
    np.testing.assert_allclose(img[rect.y + 1, rect.x + 1], BG, atol=1)  # corner: no points


def test_grid_with_legend_and_panel_titles():
    rng = np.random.default_rng(1)
    panels = [Panel(rng.normal(size=(50, 3)), rng.uniform(size=(50, 3)), title=f"p{i}")
              for i in range(5)]
    spec = FigureSpec(panels, 500, 300, columns=3, title="grid", colorbar=Colorbar("bwr", -1, 1),
                      legend=[("dropped", (0, 1, 0))])
    rects = layout_figure(spec)
    assert len({(r.x, r.y) for r in rects}) == 5
    assert all(r.x + r.w <= 500 and r.y + r.h <= 300 for r in rects)
    img = render_figure(spec, "matplotlib")
    assert img.shape == (300, 500, 3)


@pytest.mark.parametrize(
    "points, relevance, match",
    [
        (np.zeros((0, 3)), np.zeros(0), "empty"),
        (np.full((4, 3), np.nan), np.zeros(4), "NaN"),
        (np.zeros((4, 2)), np.zeros(4), "shape"),
        (np.zeros((4, 3)), np.zeros(5), "5 values"),
    ],
)
def test_bad_input_raises(tmp_path, points, relevance, match):
    with pytest.raises(ValueError, match=match):
        render_relevance_png(points, relevance, tmp_path / "x.png", backend="matplotlib")
    assert not (tmp_path / "x.png").exists()


def test_resolve_backend(monkeypatch):
    assert resolve_backend("matplotlib") == "matplotlib"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("povray")
    monkeypatch.setenv("RELDROP3D_RENDER_BACKEND", "matplotlib")
    assert resolve_backend("auto") == "matplotlib"


def test_auto_is_matplotlib_and_open3d_from_the_environment_falls_back(monkeypatch, capsys):
    import reldrop3d.viz.render as render
    import reldrop3d.viz.render_o3d as render_o3d

    monkeypatch.setattr(render_o3d, "open3d_status", lambda: (False, "no renderer in this test"))
    monkeypatch.setattr(render, "_fallback_reported", False)
    monkeypatch.delenv("RELDROP3D_RENDER_BACKEND", raising=False)
    assert resolve_backend("auto") == "matplotlib"  # the reference look, no probe
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RELDROP3D_RENDER_BACKEND", "open3d")
    assert resolve_backend("auto") == "matplotlib"
    err = capsys.readouterr().err
    assert "matplotlib" in err and "no renderer in this test" in err and err.count("\n") == 1
    with pytest.raises(RuntimeError, match="no renderer in this test"):
        resolve_backend("open3d")
