"""Bad command lines: every command answers a typical mistake with exit status 2 and one line
``reldrop3d: error: ...`` naming the file or flag (argparse usage errors: usage, then one error
line naming the flag); no traceback unless ``--debug``.

One row per case: ``(argv, expected substring)``. In ``argv``, ``{ckpt}`` is a small trained
checkpoint, ``{text}`` a text file named ``.ckpt``, ``{tmp}`` the test's folder.
"""

from __future__ import annotations

import pytest
import torch

TINY = ("--epochs", "1", "--max-steps-per-epoch", "1", "--batch-size", "2", "--num-points", "64",
        "--no-progress", "--accelerator", "cpu")

# errors found while running: exactly one line on stderr
RUN_ERRORS = [
    # train
    (["train", "--data", "nosuch", *TINY], "unknown data set 'nosuch'; available:"),
    (["train", "--data-kw", "num_points=64", *TINY],
     "--data-kw) may not set num_points (use --num-points)"),
    (["train", *TINY, "--seed", "-1"], "--seed: seed must be an integer >= 0, got -1"),
    (["train", *TINY, "--max-steps-per-epoch", "0"], "--max-steps-per-epoch: max_steps_per_epoch must be >= 1"),
    (["train", "--config", "{tmp}/nope.yaml", *TINY], "config file not found: {tmp}/nope.yaml"),
    (["train", "--data", "modelnet40", "--data-root", "{tmp}/nothing", *TINY],
     "{tmp}/nothing: modelnet40 data folder not found"),
    (["train", "--skip-missing", *TINY], "--skip-missing applies to modelnet40"),
    (["train", "--model", "nosuchnet", *TINY], "nosuchnet"),
    # evaluate
    (["evaluate", "{tmp}/missing.ckpt"], "checkpoint not found: {tmp}/missing.ckpt"),
    (["evaluate", "{text}"], "notes.ckpt is corrupt or not a torch checkpoint"),
    (["evaluate", "{tmp}"], "is a folder"),
    (["evaluate", "{ckpt}", "--split", "nosuch"], "nosuch"),
    (["evaluate", "{ckpt}", "--batch-size", "0"], "batch_size should be a positive integer"),
    # render
    (["render", "--file", "{tmp}/missing.ply", "--out", "{tmp}/r"],
     "point-cloud file not found: {tmp}/missing.ply"),
    (["render", "--checkpoint", "{text}", "--out", "{tmp}/r"], "notes.ckpt is corrupt"),
    (["render", "--checkpoint", "{ckpt}", "--target", "nosuch", "--out", "{tmp}/r"],
     "render: unknown class 'nosuch'"),
    (["render", "--checkpoint", "{ckpt}", "--index", "9999", "--out", "{tmp}/r"],
     "sample 9999 out of range (0..3)"),
    # demo
    (["demo", "--epochs", "0", "--out", "{tmp}/d"], "epochs must be positive, got 0"),
    # compare
    (["compare", "--data", "nosuch", "--seeds", "0", "1", "2", "--out", "{tmp}/c", "--epochs", "1"],
     "unknown data set 'nosuch'"),
    (["compare", "--data-kw", "num_points=64", "--seeds", "0", "1", "2", "--out", "{tmp}/c"],
     "may not set num_points (use --num-points)"),
    (["compare", "--seeds", "0", "-1", "--out", "{tmp}/c"],
     "--seeds must be integers >= 0, got [0, -1]"),
    # robustness
    (["robustness", "{tmp}/missing.ckpt"], "{tmp}/missing.ckpt: not found"),
    (["robustness", "{text}"], "notes.ckpt is corrupt"),
    (["robustness", "{ckpt}", "--corruptions", "nosuch", "--no-cache", "--no-progress"], "nosuch"),
    (["robustness", "{ckpt}", "--severities", "9", "--no-cache", "--no-progress"],
     "severities must be distinct values of [1, 2, 3, 4, 5], got [9]"),
    # data
    (["data", "check", "{tmp}", "--dataset", "nosuch"], "can check ('modelnet40'"),
    (["data", "check", "{tmp}", "--num-points", "0"], "--num-points must be >= 1, got 0"),
    # bias-benchmark (a command's own refusal)
    (["bias-benchmark", "--seeds", "0"], "bias-benchmark: --seeds must be >= 1, got 0"),
]

# argparse usage errors: the last line names the flag
USAGE_ERRORS = [
    (["train", "--data-kw", "num_shapes"],
     "argument --data-kw: expected KEY=VALUE, got 'num_shapes'"),
    (["train", "--seed", "x"], "argument --seed"),
    (["compare", "--data-kw", "num_shapes"], "argument --data-kw: expected KEY=VALUE"),
    (["compare", "--model-kw", "k"], "argument --model-kw: expected KEY=VALUE"),
    (["render", "--data-kw", "num_shapes"], "argument --data-kw: expected KEY=VALUE"),
    (["render", "--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["demo", "--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["robustness", "{ckpt}", "--seed", "-2"], "argument --seed: expected an integer >= 0"),
    (["bias-benchmark", "--weight", "rrr"], "argument --weight: expected KEY=VALUE"),
    (["data", "check"], "ROOT"),
    (["evaluate", "{ckpt}", "--device", "gpu0"], "argument --device: not a torch device: 'gpu0'"),
]
if not torch.cuda.is_available():  # a CPU machine refuses a CUDA device before any work
    USAGE_ERRORS += [
        (["evaluate", "{ckpt}", "--device", "cuda"], "argument --device: 'cuda': no CUDA device"),
        (["robustness", "{ckpt}", "--device", "cuda:0"], "argument --device: 'cuda:0': no CUDA device"),
    ]


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A PointNet trained for one step on a few synthetic shapes."""
    from reldrop3d.train.config import TrainConfig
    from reldrop3d.train.run import train

    out = tmp_path_factory.mktemp("ckpt") / "run"
    result = train(TrainConfig(
        data="synthetic", data_kwargs={"num_shapes": {"train": 8, "val": 4, "test": 4}},
        num_points=64, epochs=1, max_steps_per_epoch=1, batch_size=4, augment="none",
        accelerator="cpu", progress=False, out=str(out)))
    return result["last_checkpoint"]


def _fill(argv, tmp_path, ckpt, text):
    values = {"tmp": str(tmp_path), "ckpt": str(ckpt) if ckpt else "", "text": str(text)}
    return [a.format(**values) for a in argv]


def _needs_ckpt(argv) -> bool:
    return any("{ckpt}" in a for a in argv)


@pytest.mark.parametrize("argv, message", RUN_ERRORS, ids=[" ".join(a[:3]) for a, _ in RUN_ERRORS])
def test_user_error_is_one_line_with_exit_status_2(cli, tmp_path, text_checkpoint, request,
                                                   argv, message):
    ckpt = request.getfixturevalue("trained_checkpoint") if _needs_ckpt(argv) else None
    result = cli(*_fill(argv, tmp_path, ckpt, text_checkpoint))
    line = result.one_line_error()
    assert message.format(tmp=tmp_path) in line


@pytest.mark.parametrize("argv, message", USAGE_ERRORS,
                         ids=[" ".join(a[:3]) for a, _ in USAGE_ERRORS])
def test_bad_flag_value_is_a_usage_error_naming_the_flag(cli, tmp_path, text_checkpoint, request,
                                                         argv, message):
    ckpt = request.getfixturevalue("trained_checkpoint") if _needs_ckpt(argv) else None
    result = cli(*_fill(argv, tmp_path, ckpt, text_checkpoint))
    assert message in result.usage_error()


def test_debug_flag_and_environment_show_the_exception(cli, tmp_path, monkeypatch):
    from reldrop3d.cli import main

    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        main(["--debug", "evaluate", str(tmp_path / "missing.ckpt")])
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):  # after the command, too
        main(["evaluate", str(tmp_path / "missing.ckpt"), "--debug"])
    monkeypatch.setenv("RELDROP3D_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        main(["evaluate", str(tmp_path / "missing.ckpt")])
    monkeypatch.setenv("RELDROP3D_DEBUG", "0")
    assert cli("evaluate", tmp_path / "missing.ckpt").rc == 2


def test_multi_line_message_is_joined_into_one_line(cli, folders, tmp_path):
    root = folders.modelnet_normal(tmp_path / "data")
    for name in ("bed/bed_0001.txt", "chair/chair_0003.txt"):
        (root / name).unlink()
    line = cli("train", "--data", "modelnet40", "--data-root", root, "--out", tmp_path / "run",
               *TINY).one_line_error()
    assert "2 problem(s)" in line and "bed_0001.txt: missing" in line
    assert "chair_0003.txt: missing" in line
