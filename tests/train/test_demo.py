from reldrop3d.cli import main


def test_demo_command_end_to_end_small(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--epochs", "1", "--train-shapes", "44",
               "--test-shapes", "22", "--num-points", "64", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "most relevant first" in text
    assert (out / "relevance.png").stat().st_size > 1000
    assert (out / "checkpoints" / "last.ckpt").is_file()
