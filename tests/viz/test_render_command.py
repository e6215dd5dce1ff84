"""``reldrop3d render`` end to end on tiny inputs (untrained PointNet in a real checkpoint file)."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from reldrop3d.cli import main
from reldrop3d.data import create_dataset
from reldrop3d.models import create_model
from reldrop3d.viz.ply import read_ply

DATA_KW = dict(num_points=96, num_shapes={"train": 4, "test": 4})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint in the format ``reldrop3d train`` writes (a seeded, untrained PointNet)."""
    ds = create_dataset("synthetic", "test", **DATA_KW)
    torch.manual_seed(0)
    kwargs = dict(num_classes=len(ds.classes), in_channels=3)
    model = create_model("pointnet", **kwargs)
    meta = dict(model="pointnet", model_kwargs=kwargs, dataset="synthetic", data_kwargs=DATA_KW,
                classes=list(ds.classes), num_points=96, use_normals=False, task="cls")
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"reldrop3d": meta, "state_dict": state}, path)
    return path


def _png(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("mode", ["relevance", "before-after", "parts"])
def test_render_single(tmp_path, checkpoint, mode, capsys):
    rc = main(["render", "--checkpoint", str(checkpoint), "--index", "1", "--mode", mode,
               "--out", str(tmp_path), "--backend", "matplotlib", "--width", "500",
               "--height", "300"])
    assert rc == 0
    out = tmp_path / f"sample_1_{mode}.png"
    assert str(out) in capsys.readouterr().out
    img = _png(out)
    assert img.shape == (300, 500, 3) and (img.min(-1) < 200).mean() > 0.01


def test_render_grid_two_models_and_ply(tmp_path, checkpoint):
    rc = main(["render", "--checkpoint", str(checkpoint), "--checkpoint", str(checkpoint),
               "--index", "0", "1", "--grid", "--ply", "--target", "0", "--out", str(tmp_path),
               "--backend", "matplotlib"])
    assert rc == 0
    img = _png(tmp_path / "grid_relevance.png")
    assert img.shape[0] > 300 and img.shape[1] > 500
    ply = read_ply(tmp_path / "sample_1.ply")
    assert ply["points"].shape == (96, 3)
    assert {"relevance", "dropped", "part"} <= ply["scalars"].keys()
    assert np.abs(ply["scalars"]["relevance"]).max() > 0


def test_render_file_without_model(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 3))
    np.save(tmp_path / "c.npy", pts)
    rc = main(["render", "--file", str(tmp_path / "c.npy"), "--out", str(tmp_path),
               "--backend", "matplotlib"])
    assert rc == 0 and (tmp_path / "sample_0_relevance.png").stat().st_size > 0


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("reldrop3d: error:"), err
    return err[0]


def test_render_bad_target(tmp_path, checkpoint, capsys):
    assert main(["render", "--checkpoint", str(checkpoint), "--target", "spaceship",
                 "--out", str(tmp_path), "--backend", "matplotlib"]) == 2
    assert "unknown class" in _one_line_error(capsys)


def test_out_png_is_the_file(tmp_path, checkpoint, capsys):
    target = tmp_path / "pics" / "x.png"
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "1", "--out", str(target),
                 "--backend", "matplotlib", "--width", "300", "--height", "200"]) == 0
    assert target.is_file() and _png(target).shape == (200, 300, 3)
    assert capsys.readouterr().out.strip() == str(target)
    # several samples in a grid: still that one file
    grid = tmp_path / "grid.PNG"
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "0", "1", "--grid",
                 "--out", str(grid), "--backend", "matplotlib"]) == 0
    assert grid.is_file()


def test_out_without_png_suffix_is_a_folder(tmp_path, checkpoint):
    folder = tmp_path / "pics.d"
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "0", "1", "--out",
                 str(folder), "--backend", "matplotlib", "--width", "300", "--height", "200"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["sample_0_relevance.png",
                                                        "sample_1_relevance.png"]


def test_out_png_with_several_samples_without_grid_is_refused(tmp_path, checkpoint, capsys):
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "0", "1",
                 "--out", str(tmp_path / "x.png"), "--backend", "matplotlib"]) == 2
    assert re.search("one PNG file but 2 samples.*--grid", _one_line_error(capsys))
    assert not (tmp_path / "x.png").exists()


def _capture_specs(monkeypatch):
    """Record the FigureSpecs the command renders (and still write the PNGs)."""
    import reldrop3d.viz as viz

    specs, real = [], viz.render_figure_png

    def record(spec, path, backend="auto"):
        specs.append(spec)
        return real(spec, path, backend)

    monkeypatch.setattr(viz, "render_figure_png", record)
    return specs


def test_before_after_ghosts_the_dropped_points_in_place(tmp_path, checkpoint, monkeypatch):
    from reldrop3d.viz import GHOST_COLOR, open_session

    specs = _capture_specs(monkeypatch)
    out = tmp_path / "ba.png"
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "2", "--mode",
                 "before-after", "--beta", "0.3", "--out", str(out), "--backend",
                 "matplotlib"]) == 0
    assert out.is_file()
    (spec,) = specs
    before, after = spec.panels
    state = open_session([checkpoint], alpha=0.5, beta=0.3)
    state.set_index(2)
    mask = state.explain(0).mask
    assert 0 < mask.sum() < len(mask)
    assert len(before.points) == len(mask) and before.ghost_points is None
    # after: the kept points coloured, the dropped ones ghosted at their own coordinates
    np.testing.assert_allclose(after.points, state.sample().points[~mask, :3], rtol=1e-6)
    np.testing.assert_allclose(after.ghost_points, state.sample().points[mask, :3], rtol=1e-6)
    assert 0 < after.ghost_alpha < 1 and ("dropped", GHOST_COLOR) in spec.legend
    assert before.camera == after.camera  # the same view: points stay where they were
    assert spec.colorbar.extend == "both"  # percentile scale, clipped


def test_views_and_camera_per_class_in_grid(tmp_path, checkpoint, monkeypatch):
    specs = _capture_specs(monkeypatch)
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "0", "1", "--grid",
                 "--views", "3", "--out", str(tmp_path / "g.png"), "--backend",
                 "matplotlib"]) == 0
    (spec,) = specs
    assert len(spec.panels) == 6
    for sample in (spec.panels[:3], spec.panels[3:]):
        azims = [p.view[1] for p in sample]
        turns = np.mod(np.diff(azims), 360)
        np.testing.assert_allclose(turns, [120.0, 120.0])
        assert len({p.view[0] for p in sample}) == 1
    # default: two views (front and back) in --grid; one camera per sample and view
    specs.clear()
    assert main(["render", "--checkpoint", str(checkpoint), "--index", "0", "--grid",
                 "--out", str(tmp_path / "g2.png"), "--backend", "matplotlib"]) == 0
    a, b = specs[0].panels
    assert np.mod(b.view[1] - a.view[1], 360) == pytest.approx(180.0) and a.camera != b.camera


def test_render_refuses_bad_picture_flags(tmp_path, checkpoint):
    for flags, match in ((["--percentile", "0"], "percentile"), (["--views", "0"], "views")):
        with pytest.raises(SystemExit, match=match):  # --debug: raised, not the one-line error
            main(["--debug", "render", "--checkpoint", str(checkpoint),
                  "--out", str(tmp_path / "x.png"), "--backend", "matplotlib", *flags])
    assert not (tmp_path / "x.png").exists()
