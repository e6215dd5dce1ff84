"""Fingerprinted, atomic on-disk caches of sampled arrays."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from reldrop3d.data.cache import cache_file, default_cache_root, load_or_build, source_fingerprint


@pytest.fixture
def sources(tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / "src" / f"f{i}.txt"
        p.parent.mkdir(exist_ok=True)
        p.write_text(f"shape {i}\n")
        files.append(p)
    return files


class Builder:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"points": np.arange(12, dtype=np.float32).reshape(1, 4, 3) + self.calls,
                "labels": np.array([self.calls])}


def test_fingerprint_tracks_size_mtime_and_file_list(sources, tmp_path):
    root = tmp_path / "src"
    fp = source_fingerprint(sources, root)
    assert fp == source_fingerprint(list(reversed(sources)), root)  # order-free
    assert fp != source_fingerprint(sources, root, extra="n=1024")
    assert fp != source_fingerprint(sources[:2], root)
    st = sources[0].stat()
    os.utime(sources[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fp2 = source_fingerprint(sources, root)
    assert fp2 != fp
    sources[1].write_text("shape 1, longer\n")
    assert source_fingerprint(sources, root) != fp2
    sources[2].unlink()
    assert source_fingerprint(sources, root) != fp2  # a vanished file counts, never raises


def test_builds_once_then_reads(tmp_path):
    build, path = Builder(), tmp_path / "c" / "x.npz"
    a = load_or_build(path, "fp1", build)
    b = load_or_build(path, "fp1", build)
    assert build.calls == 1
    np.testing.assert_array_equal(a["points"], b["points"])
    assert set(b) == {"points", "labels"}
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in path.parent.iterdir()] == ["x.npz"]  # no temporary files left


def test_rebuilds_when_the_fingerprint_changes(tmp_path, caplog):
    build, path = Builder(), tmp_path / "x.npz"
    load_or_build(path, "fp1", build)
    with caplog.at_level(logging.INFO, logger="reldrop3d.data.cache"):
        out = load_or_build(path, "fp2", build)
    assert build.calls == 2 and out["labels"].tolist() == [2]
    assert "source files changed" in caplog.text
    assert load_or_build(path, "fp2", build)["labels"].tolist() == [2] and build.calls == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    build, path = Builder(), tmp_path / "x.npz"
    load_or_build(path, "fp", build)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 50,
                      "empty": b""}[damage])
    with caplog.at_level(logging.WARNING):
        out = load_or_build(path, "fp", build)
    assert build.calls == 2 and out["labels"].tolist() == [2]
    assert "unreadable" in caplog.text and "rebuilding" in caplog.text
    assert load_or_build(path, "fp", build)["labels"].tolist() == [2]  # rewritten, valid


def test_failed_build_leaves_the_old_cache(tmp_path):
    path = tmp_path / "x.npz"
    load_or_build(path, "fp", Builder())

    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        load_or_build(path, "other", broken)
    assert load_or_build(path, "fp", broken)["labels"].tolist() == [1]


def test_unwritable_location_still_returns_arrays(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        out = load_or_build(blocker / "x.npz", "fp", Builder())
    assert out["labels"].tolist() == [1] and "could not write cache" in caplog.text
    assert load_or_build(None, "fp", Builder())["labels"].tolist() == [1]  # no cache at all


def test_cache_file_keys_and_locations(tmp_path, monkeypatch):
    a = cache_file(tmp_path, "modelnet40", "normal", "/data/a", split="train", n=1024,
                   sampling="fps", normals=True)
    assert a.name == "split-train_n-1024_sampling-fps_normals-1.npz"
    assert a.parent.parent == tmp_path and a.parent.name.startswith("modelnet40-normal-")
    b = cache_file(tmp_path, "modelnet40", "normal", "/data/b", split="train", n=1024,
                   sampling="fps", normals=True)
    assert a.parent != b.parent  # two copies of a data set never share a cache
    monkeypatch.setenv("RELDROP3D_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_root() == tmp_path / "env"
    monkeypatch.delenv("RELDROP3D_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "reldrop3d"
    assert cache_file(None, "m", "h5", "/r", n=1).parent.parent == tmp_path / "xdg" / "reldrop3d"
