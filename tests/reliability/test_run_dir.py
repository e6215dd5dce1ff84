"""Runs never lose results (issue 15, item 2): a --out holding a run is refused unless --resume or
--overwrite; resume continues metrics.csv; a lock keeps a second process out; stale locks and
temporary files of killed runs are cleaned up; compare and demo can run again.

The refusal cases are rows of RUN_DIR_CASES: (what is in --out, the run's flags) -> the error
(a regex) or None (trains), plus what must be left in the folder.
"""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from reliability_helpers import tiny_run_config

from reldrop3d.train.run import train
from reldrop3d.train.run_dir import LOCK_NAME, RunDirError, RunLock, run_files

REPO = Path(__file__).resolve().parents[2]


def header_lines(out: Path) -> int:
    lines = (out / "metrics.csv").read_text().splitlines()
    return sum(line == lines[0] for line in lines)


def epochs_logged(out: Path) -> list[int]:
    with open(out / "metrics.csv", newline="") as f:
        return sorted({int(r["epoch"]) for r in csv.DictReader(f)})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished one-epoch run, copied by the tests that need a --out holding a run."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train(tiny_run_config(out))
    return out


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


# (id, contents of --out, TrainConfig overrides, expected error regex or None)
RUN_DIR_CASES = [
    ("empty folder trains", "empty", {}, None),
    ("unrelated files only: trains", "other", {}, None),
    ("a run: refused", "run",
     {}, r"already holds a training run \(checkpoints/best.ckpt, checkpoints/last.ckpt, "
         r"config.json, metrics.csv\); continue it with --resume .*last.ckpt, replace it with "
         r"--overwrite"),
    ("only metrics.csv: refused", "metrics", {}, r"already holds a training run \(metrics.csv\)"),
    ("a run, --overwrite: trains", "run", {"overwrite": True}, None),
    ("--resume and --overwrite: refused", "run", {"overwrite": True, "resume": "RUN_LAST"},
     r"give one of them"),
    ("--resume of another folder's run: refused", "run", {"resume": "OTHER_LAST"},
     r"holds another run \(.*\) than the one --resume .*other/checkpoints/last.ckpt continues"),
    ("--resume of another run into an empty folder: trains", "empty", {"resume": "OTHER_LAST"},
     None),
    ("--out is a file: refused", "file", {}, r"--out .*out is a file, not a folder"),
]


@pytest.mark.parametrize("name,contents,overrides,error", RUN_DIR_CASES,
                         ids=[c[0] for c in RUN_DIR_CASES])
def test_run_dir_refusal_table(tmp_path, finished_run, name, contents, overrides, error):
    out = tmp_path / "out"
    if contents == "run":
        copy_run(finished_run, out)
    elif contents == "file":
        out.write_text("not a folder")
    else:
        out.mkdir()
        if contents == "metrics":
            (out / "metrics.csv").write_text("epoch,step,val_acc\n0,1,0.5\n")
    if out.is_dir():
        (out / "notes.txt").write_text("mine")  # never touched by training
    before = {p: (out / p).read_bytes() for p in run_files(out)}
    checkpoints = {"RUN_LAST": out / "checkpoints" / "last.ckpt",
                   "OTHER_LAST": tmp_path / "other" / "checkpoints" / "last.ckpt"}
    if "OTHER_LAST" in overrides.values():
        copy_run(finished_run, tmp_path / "other")
    overrides = {k: str(checkpoints.get(v, v)) if isinstance(v, str) else v
                 for k, v in overrides.items()}
    if error is None:
        train(tiny_run_config(out, **{"epochs": 2 if "resume" in overrides else 1, **overrides}))
        resumed = "resume" in overrides  # a resume into an empty folder logs its own epochs only
        assert epochs_logged(out) == ([1] if resumed else [0]) and header_lines(out) == 1
    else:
        with pytest.raises(ValueError, match=error):
            train(tiny_run_config(out, **overrides))
        assert {p: (out / p).read_bytes() for p in run_files(out)} == before  # nothing lost
    if out.is_dir():
        assert (out / "notes.txt").read_text() == "mine"
        assert not (out / LOCK_NAME).exists()


# rows after the resumed checkpoint: (id, cells of the extra row, whether it is kept aside)
AFTER_CHECKPOINT_CASES = [
    # a killed run logged part of the epoch after its last checkpoint: dropped
    ("unfinished epoch", {"epoch": "1", "step": "99"}, False),
    # a validated later epoch (a resume from an older checkpoint): moved to a side file
    ("validated epoch", {"epoch": "1", "step": "99", "val_acc": "0.25"}, True),
]


@pytest.mark.parametrize("name,cells,aside", AFTER_CHECKPOINT_CASES,
                         ids=[c[0] for c in AFTER_CHECKPOINT_CASES])
def test_resume_appends_to_the_history_and_drops_rows_after_the_checkpoint(
        tmp_path, finished_run, name, cells, aside):
    out = copy_run(finished_run, tmp_path / "run")
    first = (out / "metrics.csv").read_text()
    header = first.splitlines()[0].split(",")
    with open(out / "metrics.csv", "a") as f:
        f.write(",".join(cells.get(k, "") for k in header) + "\n")
    train(tiny_run_config(out, epochs=2, resume=str(out / "checkpoints" / "last.ckpt")))
    text = (out / "metrics.csv").read_text()
    assert text.startswith(first.splitlines()[0])
    assert ",99," not in text  # the row logged after the checkpoint is gone
    assert epochs_logged(out) == [0, 1] and header_lines(out) == 1
    old_rows = first.splitlines()[1:]
    assert all(row in text for row in old_rows)  # epoch 0's rows kept as they were
    kept = list(out.glob("metrics.dropped-*.csv"))
    assert len(kept) == int(aside)
    if aside:
        assert ",99," in kept[0].read_text()


def test_stale_temporary_files_are_removed_at_start(tmp_path, finished_run, caplog):
    out = copy_run(finished_run, tmp_path / "run")
    stale = [out / ".config.json.x1y2.tmp", out / "checkpoints" / ".last.ckpt.abcd.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    with caplog.at_level(logging.WARNING, logger="reldrop3d.train.run_dir"):
        train(tiny_run_config(out, epochs=2, resume=str(out / "checkpoints" / "last.ckpt")))
    assert not any(p.exists() for p in stale)
    assert "removed 2 stale temporary file(s)" in caplog.text


HOLD_LOCK = ("import sys, time; from reldrop3d.train.run_dir import RunLock; "
             "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)")


def test_a_second_process_is_kept_out_and_a_stale_lock_is_taken_over(tmp_path, caplog):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(REPO), "PATH": ""})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=rf"--out {out} is in use by another training run "
                                              rf"\(PID {holder.pid} on "):
            train(tiny_run_config(out))
        assert run_files(out) == []  # the refused run wrote nothing
    finally:
        holder.kill()  # like kill -9: the lock file stays behind
        holder.wait()
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == holder.pid
    with caplog.at_level(logging.WARNING, logger="reldrop3d.train.run_dir"):
        train(tiny_run_config(out))
    assert f"taking over the stale lock {out / LOCK_NAME} of PID {holder.pid}" in caplog.text
    assert "no longer running" in caplog.text
    assert not (out / LOCK_NAME).exists()


class CrashAt(L.Callback):
    """Dies at the start of ``epoch`` (the checkpoints of the epochs before are on disk)."""

    def __init__(self, epoch: int = 0):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("crash")


def test_lock_is_released_when_training_fails(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crash"):
        train(tiny_run_config(out), callbacks=[CrashAt(0)])
    assert not (out / LOCK_NAME).exists()
    with RunLock(out) as lock:  # free again
        assert lock.held and json.loads((out / LOCK_NAME).read_text())["pid"] > 0
    assert not (out / LOCK_NAME).exists()


def test_lock_in_the_same_process_is_exclusive(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunDirError, match="in use by another training run"):
            RunLock(tmp_path).acquire()


def test_demo_runs_twice_into_the_same_folder(tmp_path, capsys):
    from reldrop3d.cli import main

    argv = ["demo", "--out", str(tmp_path / "demo"), "--epochs", "1", "--train-shapes", "22",
            "--test-shapes", "11", "--num-points", "32", "--no-progress"]
    assert main(argv) == 0
    assert main(argv) == 0  # the demo replaces its own run
    assert epochs_logged(tmp_path / "demo") == [0] and header_lines(tmp_path / "demo") == 1


def test_compare_resumes_an_interrupted_run_and_replaces_one_of_other_settings(tmp_path):
    from reldrop3d.experiments.compare import CompareConfig, run_one, train_config

    train_kw = dict(num_points=32, batch_size=8, augment="none", val_split="val",
                    data_kwargs={"num_shapes": {"train": 16, "val": 4, "test": 8}})
    cfg = CompareConfig(out=str(tmp_path), seeds=(0,), variants=("baseline",), epochs=2,
                        train=train_kw, fractions=(0.0, 0.5))
    tc = train_config(cfg, "baseline", 0)
    out = Path(tc.out)
    with pytest.raises(RuntimeError, match="crash"):  # interrupted in its second epoch
        train(tc, callbacks=[CrashAt(1)])
    logs = []
    run_one(cfg, "baseline", 0, log=logs.append)
    assert any("resuming" in line for line in logs)
    assert epochs_logged(out) == [0, 1] and header_lines(out) == 1
    # other settings into the same run folder (no eval.json matches): replaced, not refused
    (out / "eval.json").unlink()
    cfg2 = CompareConfig(out=str(tmp_path), seeds=(0,), variants=("baseline",), epochs=1,
                         train=train_kw, fractions=(0.0, 0.5))
    logs = []
    run_one(cfg2, "baseline", 0, log=logs.append)
    assert any("replacing" in line for line in logs)
    assert epochs_logged(out) == [0]


def test_cli_refuses_a_second_train_into_the_same_out(cli, tmp_path, finished_run):
    out = copy_run(finished_run, tmp_path / "out")
    line = cli("train", "--data", "synthetic", "--epochs", "1", "--no-progress", "--out",
               out).one_line_error()
    assert line == (f"reldrop3d: error: --out {out} already holds a training run "
                    f"(checkpoints/best.ckpt, checkpoints/last.ckpt, config.json, metrics.csv); "
                    f"continue it with --resume {out}/checkpoints/last.ckpt, replace it with "
                    f"--overwrite, or choose another --out")
