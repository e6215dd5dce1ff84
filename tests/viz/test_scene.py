import numpy as np
import pytest
import torch
from torch import nn

from reldrop3d.viz import (
    ACTIONS,
    DatasetSource,
    Explainer,
    FileSource,
    Mode,
    Sample,
    ViewerState,
    help_text,
    mode_views,
    render_figure,
    views_figure,
)
from reldrop3d.viz.colors import DROPPED_COLOR, cold_color, hot_color, neutral_color
from reldrop3d.viz.figure import layout_figure

K = 3


class TinyClassifier(nn.Module):
    """(B, N, C) -> (B, K) logits; class k prefers large coordinate k."""

    def forward(self, x):
        return x[..., :K].amax(1) * 5.0


def fake_relevance(model, points, target, method="fake"):
    """Relevance = the target's coordinate (so the argmax point is known)."""
    return points[0, :, int(target[0])][None].clone()


class ListSource:
    classes = ["a", "b", "c"]
    part_names = ["p0", "p1"]

    def __init__(self, n=4, points=64, parts=True):
        g = np.random.default_rng(0)
        self.samples = [
            Sample(g.normal(size=(points, 3)).astype(np.float32), i % K,
                   (np.arange(points) % 2) if parts else None, None, f"s{i}")
            for i in range(n)
        ]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def make_state(n_models=1, **kw):
    exps = [Explainer(TinyClassifier(), name=f"m{k}", method="fake", alpha=0.0, beta=0.5,
                      relevance_fn=fake_relevance) for k in range(n_models)]
    return ViewerState(ListSource(**kw), exps)


def test_navigation_wraps_and_modes_cycle():
    st = make_state()
    assert st.index == 0 and st.mode is Mode.RELEVANCE and st.target is None
    st.prev_sample()
    assert st.index == 3
    st.next_sample()
    st.next_sample()
    assert st.index == 1
    assert st.available_modes() == [Mode.RELEVANCE, Mode.MASKED, Mode.DROPPED, Mode.PARTS]
    seen = []
    for _ in range(4):
        st.cycle_mode()
        seen.append(st.mode)
    assert seen == [Mode.MASKED, Mode.DROPPED, Mode.PARTS, Mode.RELEVANCE]
    with pytest.raises(IndexError):
        st.set_index(4)
    assert "sample 2/4" in st.status()


def test_target_cycles_through_predicted_and_all_classes():
    st = make_state()
    seq = []
    for _ in range(K + 1):
        st.next_target()
        seq.append(st.target)
    assert seq == [0, 1, 2, None]
    st.prev_target()
    assert st.target == 2


@pytest.mark.parametrize("target", [None, 0, 2])
def test_relevance_colours_follow_target(target):
    st = make_state()
    st.target = target
    (view,) = st.panels()
    pts = st.sample().points
    e = st.explain(0)
    expected_target = int(np.argmax(pts.max(0))) if target is None else target
    assert e.target == expected_target and e.pred == int(np.argmax(pts.max(0)))
    r = pts[:, expected_target]
    top = int(np.argmax(np.abs(r)))  # symmetric scale: the largest |R| is at an end of the map
    np.testing.assert_allclose(view.colors[top], hot_color() if r[top] > 0 else cold_color())
    assert f"true: {st.classes[st.sample().label]}" in view.lines
    assert any(line.startswith("predicted: ") for line in view.lines)
    # default scale: the 95th percentile of |R| of this shape; max|R| on request
    assert view.colorbar[1] == pytest.approx(np.percentile(np.abs(r), 95))
    st.percentile = None
    (view,) = st.panels()
    assert view.colorbar[1] == pytest.approx(np.abs(r).max())


def test_masked_and_dropped_views_agree_with_mask():
    st = make_state()
    mask = st.explain(0).mask
    assert 0 < mask.sum() < len(mask)  # beta=0.5, alpha=0: drops the most relevant points
    st.set_mode(Mode.MASKED)
    (v,) = st.panels()
    assert len(v.points) == (~mask).sum()
    np.testing.assert_allclose(v.ghost, st.sample().points[mask])  # dropped: ghosted in place
    st.set_mode(Mode.DROPPED)
    (v,) = st.panels()
    np.testing.assert_allclose(v.colors[mask], np.tile(DROPPED_COLOR, (mask.sum(), 1)))
    assert ("dropped", DROPPED_COLOR) in v.legend
    # the mask of a sample is reproducible (seeded by the sample index)
    st._cache.clear()
    np.testing.assert_array_equal(st.explain(0).mask, mask)


def test_parts_mode_and_unavailable_modes():
    st = make_state()
    st.set_mode(Mode.PARTS)
    (v,) = st.panels()
    assert not np.allclose(v.colors[0], v.colors[1]) and np.allclose(v.colors[0], v.colors[2])
    assert [lab for lab, _ in v.legend] == ["p0", "p1"]
    st2 = ViewerState(ListSource(parts=False))
    assert st2.available_modes() == [Mode.RELEVANCE]
    with pytest.raises(ValueError, match="not available"):
        st2.set_mode(Mode.DROPPED)


def test_without_model_uses_stored_relevance_or_neutral():
    src = ListSource(parts=False)
    st = ViewerState(src)
    (v,) = st.panels()
    np.testing.assert_allclose(v.colors, np.tile(neutral_color(), (64, 1)), atol=2e-3)
    src.samples[0].relevance = np.linspace(-1, 2, 64)
    st._sample = None
    (v,) = st.panels()
    np.testing.assert_allclose(v.colors[-1], hot_color())


def test_side_by_side_two_models_and_cache():
    st = make_state(n_models=2)
    views = st.panels()
    assert [v.title for v in views] == ["m0", "m1"]
    assert len(st._cache) == 2
    st.panels()
    assert len(st._cache) == 2  # cached
    spec = views_figure(views, 400, 200)
    layout_figure(spec)
    assert spec.panels[0].camera == spec.panels[1].camera  # synchronised view
    # the same relevance in both: one scale, its values on the bar, arrow ends (clipped)
    assert spec.colorbar.label == "relevance (clipped at p95 of |R|)"
    assert spec.colorbar.extend == "both"
    views[1].colorbar = (-1.0, 3.0)  # another model's scale: normalised bar
    spec = views_figure(views, 400, 200)
    assert spec.colorbar.label == "relevance / p95 of |R|"
    assert views_figure(views, 400, 200, percentile=None).colorbar.label == "relevance / max|R|"
    with pytest.raises(ValueError, match="two models"):
        ViewerState(ListSource(), st.explainers * 2)


def test_before_after_figure_renders(tmp_path):
    st = make_state()
    views = mode_views(st, [Mode.RELEVANCE, Mode.DROPPED, Mode.MASKED])
    assert st.mode is Mode.RELEVANCE
    spec = views_figure(views, 480, 200, title="before/after")
    img = render_figure(spec, "matplotlib")
    assert img.shape == (200, 480, 3)
    assert spec.legend and spec.colorbar is not None
    # one camera for all three: the masked panel is not re-fitted to its subset
    layout_figure(spec)
    assert spec.panels[0].camera == spec.panels[2].camera


def test_dataset_source_and_real_model():
    from reldrop3d.data import create_dataset
    from reldrop3d.models import create_model

    ds = create_dataset("synthetic", "test", num_points=128, num_shapes=4)
    src = DatasetSource(ds)
    s = src[1]
    assert s.points.shape == (128, 3) and s.parts is not None and s.label is not None
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=len(ds.classes))
    st = ViewerState(src, [Explainer(model, name="pointnet")])
    st.set_index(1)
    (v,) = st.panels()
    assert v.colors.shape == (128, 3) and np.isfinite(v.colors).all()
    assert st.classes == ds.classes and Mode.PARTS in st.available_modes()


def test_file_source(tmp_path):
    from reldrop3d.viz.export import export_relevance_ply

    pts = np.random.default_rng(0).normal(size=(32, 3))
    export_relevance_ply(tmp_path / "a.ply", pts, pts[:, 0], parts=np.arange(32) % 3)
    src = FileSource([tmp_path / "a.ply"])
    s = src[0]
    np.testing.assert_allclose(s.relevance, pts[:, 0], rtol=1e-6)
    assert s.parts.tolist()[:4] == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="normals"):
        FileSource([tmp_path / "a.ply"], with_normals=True)[0]


def test_actions_drive_the_state():
    st = make_state()
    assert st.apply("next_sample") and st.index == 1
    assert st.apply("mode:dropped") and st.mode is Mode.DROPPED
    assert not st.apply("mode:dropped")  # already there
    assert st.apply("next_target") and st.target == 0
    assert st.apply("target:predicted") and st.target is None
    assert st.apply("cycle_mode") and st.mode is Mode.PARTS
    st2 = ViewerState(ListSource(parts=False))
    assert not st2.apply("mode:parts") and not st2.apply("next_target")
    with pytest.raises(ValueError, match="unknown viewer action"):
        st.apply("explode")
    assert all(a.replace("_", " ") in help_text() for a in ACTIONS)


def test_export_ply_of_current_sample(tmp_path):
    from reldrop3d.viz.ply import read_ply

    st = make_state()
    path = st.export_ply(tmp_path / "s.ply")
    back = read_ply(path)
    np.testing.assert_allclose(back["scalars"]["relevance"], st.explain(0).relevance, rtol=1e-6)
    np.testing.assert_array_equal(back["scalars"]["dropped"].astype(bool), st.explain(0).mask)
    assert ViewerState(ListSource()).export_ply(tmp_path / "none.ply") is None


def test_file_source_subsamples_and_normalises(tmp_path):
    g = np.random.default_rng(0)
    pts = g.normal(size=(300, 3)) * 50 + 7  # other units, off-centre
    np.savez(tmp_path / "big.npz", points=pts, relevance=pts[:, 0], part=np.arange(300) % 5)
    s = FileSource([tmp_path / "big.npz"], num_points=64)[0]
    assert s.points.shape == (64, 3) and s.relevance.shape == (64,) and s.parts.shape == (64,)
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=1).max(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(s.points.mean(0), 0.0, atol=1e-5)
    # per-point properties follow the sampled points: relevance was the raw x coordinate
    np.testing.assert_allclose(np.corrcoef(s.points[:, 0], s.relevance)[0, 1], 1.0, atol=1e-6)
    raw = FileSource([tmp_path / "big.npz"], normalize=False)[0]
    np.testing.assert_allclose(raw.points, pts, rtol=1e-6)


def test_percentile_scale_in_state():
    st = make_state()
    st.percentile = 50.0
    (v,) = st.panels()
    r = st.explain(0).relevance
    assert v.colorbar[1] == pytest.approx(np.percentile(np.abs(r), 50))
    assert (np.abs(v.colors - np.array(hot_color())).max(1) < 1e-9).sum() > 1  # saturated
