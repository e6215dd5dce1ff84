import pytest

from reldrop3d.utils.io import atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "file.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [f.name for f in p.parent.iterdir()] == ["file.txt"]


def test_failed_write_keeps_previous_content(tmp_path):
    p = tmp_path / "ckpt.bin"
    p.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "previous"
    assert [f.name for f in tmp_path.iterdir()] == ["ckpt.bin"]
