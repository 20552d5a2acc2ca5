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


def _prompts(out, *extra) -> int:
    return main(["corpus", "prompts", "--out", str(out), *extra])


def test_prompts_state_tempo_and_key(tmp_path, capsys):
    from beatlm.dataset_builders.synth.prompts import states_key, states_tempo
    from beatlm.dataset_builders.synth.styles import all_styles
    out = tmp_path / "prompts.jsonl"
    assert _prompts(out, "--num", "24", "--seed", "1") == 0
    assert "24 prompts in" in capsys.readouterr().out
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(items) == 24
    for item in items:
        assert set(item) == {"prompt", "bpm", "key", "style"}
        assert isinstance(item["bpm"], int) and item["style"] in all_styles()
        assert states_tempo(item["prompt"], item["bpm"]), item
        assert item["key"] is None or states_key(item["prompt"], item["key"]), item
    assert sum(item["key"] is not None for item in items) >= 12  # every other prompt at least
    assert {item["style"] for item in items} == set(all_styles())  # each block of 8 holds every style


def test_prompts_are_deterministic_and_held_out(tmp_path):
    from beatlm.dataset_builders.synth import arrangement, render, styles
    a, b, c, d = (tmp_path / name for name in ("a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl"))
    assert _prompts(a, "--num", "16", "--seed", "0") == 0
    assert _prompts(b, "--num", "16", "--seed", "0") == 0
    assert _prompts(c, "--num", "16", "--seed", "2") == 0
    assert _prompts(d, "--num", "8", "--seed", "0") == 0
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    assert a.read_text().splitlines()[:8] == d.read_text().splitlines()  # prompt i does not depend on --num
    # not the clips of a corpus rendered with the same seed
    chosen = list(styles.all_styles().values())
    clips = [arrangement.plan_clip(render.clip_style(chosen, 0, i), 10.0, render.clip_rng(0, i, 0)) for i in range(16)]
    items = [json.loads(line) for line in a.read_text().splitlines()]
    assert [(i["style"], i["bpm"], i["key"]) for i in items] != [(p.style.name, p.bpm, p.key.name) for p in clips]


def test_prompts_require_key_and_styles(tmp_path):
    out = tmp_path / "p.jsonl"
    assert _prompts(out, "--num", "10", "--require-key", "--styles", "trap,drill") == 0
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(item["key"] is not None for item in items)
    assert {item["style"] for item in items} == {"trap", "drill"}


def test_prompts_refuse_to_overwrite(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    out.write_text("mine\n")
    assert _prompts(out, "--num", "3") == 2
    assert "already exists" in _error_line(capsys) and out.read_text() == "mine\n"
    assert _prompts(out, "--num", "3", "--overwrite") == 0
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize("extra, message", [
    (["--num", "0"], "--num"),
    (["--styles", "trap,polka"], "unknown style(s) polka"),
])
def test_prompts_bad_input(tmp_path, capsys, extra, message):
    out = tmp_path / "p.jsonl"
    assert _prompts(out, *extra) == 2
    assert message in _error_line(capsys) and not out.exists()


def test_prompts_out_is_a_folder_or_under_a_file(tmp_path, capsys):
    assert _prompts(tmp_path, "--num", "2") == 2
    assert "is a folder" in _error_line(capsys)
    afile = tmp_path / "file"
    afile.write_text("x")
    assert _prompts(afile / "p.jsonl", "--num", "2") == 2
    assert "is not a folder" in _error_line(capsys)
