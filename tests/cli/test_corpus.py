"""`beatlm corpus render|stats` from the command line."""

import json
from pathlib import Path

import pytest

from beatlm.cli.main import main

SMALL = ["--num-clips", "3", "--duration", "2", "--seed", "1", "--quiet"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("beatlm: error: "), err
    return err[0]


def test_render_then_stats(tmp_path, capsys):
    out, config = tmp_path / "mybeats", tmp_path / "cfg"
    assert main(["corpus", "render", "--out", str(out), *SMALL, "--config-dir", str(config)]) == 0
    text = capsys.readouterr().out
    assert "3 clips in" in text and "s of CPU per clip" in text and "dset=beats/mybeats" in text
    dset = config / "dset" / "beats" / "mybeats.yaml"
    assert dset.is_file() and str((out / "egs" / "train").resolve()) in dset.read_text()
    # a re-run finds everything done and renders nothing
    assert main(["corpus", "render", "--out", str(out), *SMALL, "--config-dir", str(config)]) == 0
    assert "(0 rendered now)" in capsys.readouterr().out
    assert main(["corpus", "stats", str(out), "--analyse", "1"]) == 0
    text = capsys.readouterr().out
    assert "styles:" in text and "0 problem(s)" in text and "accuracy on 1 clips" in text
    assert (out / "stats.png").is_file() and json.loads((out / "stats.json").read_text())["clips"] == 3


def test_list_styles(capsys):
    assert main(["corpus", "render", "--out", "unused", "--list-styles"]) == 0
    out = capsys.readouterr().out
    for name in ("boom_bap", "trap", "drill", "lofi", "gfunk", "phonk", "jazz_rap", "cloud"):
        assert name in out


@pytest.mark.parametrize("extra, message", [
    (["--styles", "trap,polka"], "unknown style(s) polka"),
    (["--duration", "-3"], "--duration"),
    (["--duration", "100000"], "--duration"),
    (["--sample-rate", "12"], "--sample-rate"),
    (["--soundfont", "/nonexistent/gm.sf2"], "soundfont"),
    (["--samples", "/nonexistent/drums"], "sample folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    assert main(["corpus", "render", "--out", str(out), *SMALL, "--no-dset", *extra]) == 2
    assert message in _error_line(capsys)
    assert not out.exists()


def test_foreign_folder_is_left_alone(tmp_path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "cat.jpg").write_bytes(b"\xff\xd8")
    assert main(["corpus", "render", "--out", str(out), *SMALL, "--no-dset"]) == 2
    assert "not a BeatLM corpus" in _error_line(capsys)
    assert [p.name for p in out.iterdir()] == ["cat.jpg"]


def test_stats_of_a_non_corpus(tmp_path, capsys):
    assert main(["corpus", "stats", str(tmp_path)]) == 2
    assert "not a BeatLM corpus" in _error_line(capsys)


def test_stats_fails_on_broken_files(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["corpus", "render", "--out", str(out), *SMALL, "--no-dset"]) == 0
    wav = next(Path(out, "audio", "train").glob("*.wav"))
    wav.write_bytes(b"RIFF")
    capsys.readouterr()
    assert main(["corpus", "stats", str(out), "--analyse", "0"]) == 2
    captured = capsys.readouterr()
    assert "unreadable" in captured.out and "failed the checks" in captured.err
