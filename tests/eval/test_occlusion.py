import pytest
import torch

from reldrop3d.cli import main
from reldrop3d.data import create_dataset
from reldrop3d.eval.classification import evaluate_classifier
from reldrop3d.eval.occlusion import occlusion_accuracy, region_scores, remove_points
from reldrop3d.eval.occlusion_report import curve_auc
from reldrop3d.models import create_model


def test_remove_points_keeps_order_and_drops_top_scores():
    x = torch.arange(10.0).view(1, 10, 1).expand(2, 10, 3)
    scores = torch.arange(10.0).expand(2, 10)
    out = remove_points(x, scores, 3)
    assert out.shape == (2, 7, 3) and torch.equal(out[0, :, 0], torch.arange(7.0))
    with pytest.raises(ValueError, match="remove"):
        remove_points(x, scores, 10)


def test_region_scores_are_local_averages():
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(1, 200, 3, generator=gen)
    hot = torch.zeros(1, 200)
    hot[0, 0] = 1.0
    s = region_scores(pts, hot, k=8)
    # the points around point 0 inherit its score; distant ones do not
    near = (pts[0] - pts[0, 0]).norm(dim=1).argsort()[:4]
    assert (s[0, near] > 0).all() and (s[0] > 0).sum() < 40


def test_curve_auc():
    assert curve_auc([0, 0.5, 1.0], [1, 1, 1]) == pytest.approx(1.0)
    assert curve_auc([0, 1.0], [1, 0]) == pytest.approx(0.5)


def test_occlusion_accuracy_modes_and_errors():
    ds = create_dataset("synthetic", "test", num_points=64, num_shapes=11)
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=ds.num_classes)
    clean = evaluate_classifier(model, ds)["accuracy"]
    for mode in ("point", "region"):
        curves = occlusion_accuracy(model, ds, [0.0, 0.5], mode=mode, k=8)
        assert set(curves) == {"most", "least", "random"}
        # nothing removed: every order gives the clean accuracy of the model in eval mode
        assert [c[0] for c in curves.values()] == pytest.approx([clean] * 3)
    with pytest.raises(ValueError, match="occlusion mode"):
        occlusion_accuracy(model, ds, [0.1], mode="pixel")
    with pytest.raises(ValueError, match="orders"):
        occlusion_accuracy(model, ds, [0.1], orders=("sideways",))


def test_evaluate_occlusion_writes_csv_png_and_spread(tmp_path, capsys):
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.run import train

    cfg = TrainConfig(data="synthetic", data_kwargs={"num_shapes": 22}, num_points=64, epochs=1,
                      batch_size=11, out=str(tmp_path / "run"), progress=False, accelerator="cpu")
    ckpt = train(cfg)["last_checkpoint"]
    capsys.readouterr()
    assert main(["evaluate", ckpt, "--occlusion", "--out", str(tmp_path / "occ")]) == 0
    out = capsys.readouterr().out
    assert "region" in out and "entropy" in out
    header = (tmp_path / "occ" / "occlusion.csv").read_text().splitlines()[0]
    assert "acc_region_most_first" in header and "acc_point_random_first" in header
    assert (tmp_path / "occ" / "occlusion.png").stat().st_size > 1000
    assert "share_90" in (tmp_path / "occ" / "spread.csv").read_text()
