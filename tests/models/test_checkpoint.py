"""Checkpoints are untrusted input: nothing stored in one runs, and every bad file is one clear error."""

from __future__ import annotations

import pathlib
import zipfile

import pytest
import torch

from reldrop3d.models import create_model
from reldrop3d.models.checkpoint import CheckpointError, load_model, read_checkpoint


class _TouchOnLoad:
    """Unpickling this object creates a file (a stand-in for any code an attacker would run)."""

    def __init__(self, target: pathlib.Path):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (self.target,))


def _meta(model="pointnet", num_classes=4, dataset="synthetic", task="cls", **kw):
    return {"model": model, "model_kwargs": {"num_classes": num_classes, "in_channels": 3, **kw},
            "dataset": dataset, "data_kwargs": {}, "classes": [f"c{i}" for i in range(num_classes)],
            "num_points": 64, "use_normals": False, "task": task, "config": {"lr": 1e-3}}


def _write(path, model_name="pointnet", extra=None, **meta_kw):
    model = create_model(model_name, num_classes=meta_kw.get("num_classes", 4), in_channels=3)
    ckpt = {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "reldrop3d": _meta(model_name, **meta_kw), "epoch": 0, "global_step": 1}
    ckpt.update(extra or {})
    torch.save(ckpt, path)
    return model


def test_a_plain_checkpoint_round_trips(tmp_path):
    original = _write(tmp_path / "ok.ckpt")
    model, meta = load_model(tmp_path / "ok.ckpt")
    assert meta["classes"] == ["c0", "c1", "c2", "c3"] and not model.training
    for (k, a), (_, b) in zip(original.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("where", ["extra_key", "inside_meta"])
def test_a_crafted_pickle_does_not_run(tmp_path, where):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    payload = _TouchOnLoad(marker)
    if where == "extra_key":  # otherwise a working checkpoint that would evaluate normally
        _write(path, extra={"hyper_parameters": payload})
    else:
        model = create_model("pointnet", num_classes=4, in_channels=3)
        meta = _meta()
        meta["config"] = payload
        torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                    "reldrop3d": meta}, path)
    # sanity: the payload is live (an unsafe load would create the file)
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(CheckpointError, match=r"evil\.ckpt.*refusing"):
        load_model(path)
    assert not marker.exists()


def test_a_crafted_checkpoint_does_not_run_through_the_cli(tmp_path, capsys):
    from reldrop3d.cli import main

    marker = tmp_path / "pwned"
    _write(tmp_path / "evil.ckpt", extra={"callbacks": {"x": _TouchOnLoad(marker)}})
    assert main(["evaluate", str(tmp_path / "evil.ckpt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("reldrop3d: error: ")
    assert "evil.ckpt" in err and "refusing" in err
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="evil.ckpt"):  # --debug: the exception itself
        main(["--debug", "evaluate", str(tmp_path / "evil.ckpt")])
    assert not marker.exists()


def _truncated(tmp_path):
    _write(tmp_path / "full.ckpt")
    data = (tmp_path / "full.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.ckpt"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: (p / "dir.ckpt").mkdir() or p / "dir.ckpt", r"dir\.ckpt is a folder"),
        (lambda p: (p / "t.ckpt").write_text("hello\n") and p / "t.ckpt", r"t\.ckpt is corrupt or not a torch checkpoint"),
        (lambda p: (p / "e.ckpt").write_bytes(b"") or p / "e.ckpt", r"e\.ckpt is corrupt"),
        (_truncated, r"cut\.ckpt is corrupt"),
        (lambda p: torch.save({"state_dict": {}}, p / "f.ckpt") or p / "f.ckpt", r"f\.ckpt is not a reldrop3d checkpoint"),
        (lambda p: torch.save([1, 2], p / "l.ckpt") or p / "l.ckpt", r"l\.ckpt is not a reldrop3d checkpoint"),
        (lambda p: torch.save({"state_dict": {}, "reldrop3d": {"model": "pointnet"}}, p / "m.ckpt") or p / "m.ckpt",
         r"m\.ckpt: the reldrop3d metadata lacks model_kwargs"),
    ],
    ids=["folder", "text", "empty", "truncated", "foreign", "list", "partial-meta"],
)
def test_bad_files_are_one_clear_error(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)


def test_a_zip_that_is_not_torch(tmp_path):
    with zipfile.ZipFile(tmp_path / "z.ckpt", "w") as z:
        z.writestr("readme.txt", "not torch")
    with pytest.raises(CheckpointError, match=r"z\.ckpt is corrupt or not a torch checkpoint"):
        read_checkpoint(tmp_path / "z.ckpt")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        load_model(tmp_path / "nope.ckpt")


def test_weights_of_another_model_are_named(tmp_path):
    # metadata says pointnet with 4 classes, weights are of a 7-class pointnet
    model = create_model("pointnet", num_classes=7, in_channels=3)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "reldrop3d": _meta(num_classes=4)}, tmp_path / "w.ckpt")
    with pytest.raises(CheckpointError, match=r"w\.ckpt: its weights do not fit a 'pointnet'"):
        load_model(tmp_path / "w.ckpt")
    meta = _meta(model="no_such_model")
    torch.save({"state_dict": {}, "reldrop3d": meta}, tmp_path / "u.ckpt")
    with pytest.raises(CheckpointError, match=r"u\.ckpt names an unknown model 'no_such_model'"):
        load_model(tmp_path / "u.ckpt")


def test_task_and_modality_are_checked(tmp_path):
    _write(tmp_path / "cls.ckpt")
    with pytest.raises(CheckpointError, match=r"cls\.ckpt holds a cls model; a partseg model"):
        load_model(tmp_path / "cls.ckpt", task="partseg")
    with pytest.raises(CheckpointError, match=r"cls\.ckpt holds a model of points"):
        load_model(tmp_path / "cls.ckpt", modality="images")
    model, _ = load_model(tmp_path / "cls.ckpt", task="cls", modality="points")
    assert model is not None
