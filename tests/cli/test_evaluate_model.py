"""`beatlm eval --model DIR --prompts FILE --out DIR`: a report folder from the tiny bundle; bad input exits 2."""

import json

import pytest

from beatlm.cli.main import build_parser, main

PROMPTS = [{"prompt": "dark trap beat, 140 bpm, heavy 808", "key": "F minor"},
           {"prompt": "boom bap in A minor, 90 bpm, dusty piano", "style": "boom_bap"}]


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PROMPTS) + "\n")
    return path


@pytest.fixture
def two_drums(tmp_path):
    """Two bundled CC0 one-shots (the 54-file default costs seconds of codec time; it is checked to be the default)."""
    import shutil

    from beatlm.assets import DRUMS_CC0_DIR
    folder = tmp_path / "drums"
    folder.mkdir()
    for name in ("bd_808.flac", "drum_snare_hard.flac"):
        shutil.copy(DRUMS_CC0_DIR / name, folder)
    return folder


def _eval(bundle, prompts, out, *extra):
    return main(["eval", "--model", str(bundle), "--prompts", str(prompts), "--out", str(out), "--duration", "1",
                 "--quiet", *extra])


def test_report_folder(tiny_bundle, tiny_egs, prompts_file, tmp_path, two_drums, capsys):
    out = tmp_path / "report"
    assert _eval(tiny_bundle, prompts_file, out, "--reference", str(tiny_egs / "train"),
                 "--codec-audio", str(two_drums)) == 0
    printed = capsys.readouterr().out
    assert "tempo adherence" in printed and "no vocals" in printed and str(out / "report.md") in printed
    report = json.loads((out / "report.json").read_text())
    assert [t["name"] for t in report["targets"]] == ["tempo adherence", "key adherence", "MuLaN cycle consistency",
                                                      "no vocals"]
    assert all(t["met"] in (True, False) for t in report["targets"])  # every target evaluable with these prompts
    samples = report["samples"]
    assert len(samples) == 4 and [s["seed"] for s in samples] == [0, 1, 2, 3]  # 2 prompts x 2 seeds
    assert samples[0]["bpm_asked"] == 140 and samples[0]["key_asked"] == "F minor" and samples[0]["style"] == "trap"
    assert samples[2]["key_asked"] == "A minor" and samples[2]["style"] == "boom_bap"
    assert all(0 <= s["speech_ratio"] <= 1 and -1 <= s["mulan"] <= 1 for s in samples)
    m = report["metrics"]
    assert m["frechet"]["value"] >= 0 and m["frechet"]["reference_clips"] == 3
    assert m["diversity"]["value"] >= 0 and len(m["diversity"]["per_prompt"]) == 2
    assert m["codec"]["files"] == 2 and m["codec"]["mel_distance"] > 0 and "si_snr_db" in m["codec"]
    assert abs(m["mulan"]["difference"] - (m["mulan"]["matched"] - m["mulan"]["shuffled"])) < 1e-9
    for name in ("report.md", "spectrograms.png", "tempo.png", "styles.png", *report["files"]["samples"]):
        assert (out / name).is_file(), name
    assert (out / "tempo.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(out.rglob("*.tmp"))  # nothing half-written left over
    md = (out / "report.md").read_text()
    assert "## Targets" in md and "MuLaN cycle consistency" in md and "Fréchet" in md and "![tempo](tempo.png)" in md
    import soundfile
    assert abs(soundfile.info(str(out / samples[0]["file"])).duration - 1.0) < 0.01


def test_library_call_and_overwrite(tiny_bundle, tmp_path, two_drums):
    from beatlm.evaluation import evaluate_model
    prompts = tmp_path / "p.txt"
    prompts.write_text("lofi beat, 80 bpm\n")
    out = tmp_path / "r"
    report = evaluate_model(tiny_bundle, prompts, out, duration=1.0, seeds=1, progress=False, codec_audio=two_drums)
    assert report == json.loads((out / "report.json").read_text())
    assert report["metrics"]["frechet"]["value"] is None and "no reference" in report["metrics"]["frechet"]["note"]
    assert report["metrics"]["diversity"]["value"] is None and report["metrics"]["mulan"]["shuffled"] is None
    assert {t["name"]: t["met"] for t in report["targets"]}["key adherence"] is None
    before = (out / "report.json").read_text()
    with pytest.raises(Exception, match="not empty"):
        evaluate_model(tiny_bundle, prompts, out, duration=1.0, seeds=1, progress=False, codec_audio=two_drums)
    assert (out / "report.json").read_text() == before
    again = evaluate_model(tiny_bundle, prompts, out, duration=1.0, seeds=1, progress=False, overwrite=True,
                           codec_audio=two_drums)
    assert report["metrics"]["codec"]["files"] == 2
    assert again["samples"][0]["tempo_bpm"] == report["samples"][0]["tempo_bpm"]  # same seed, same audio


def test_default_codec_audio_is_the_bundled_drums(tmp_path):
    from beatlm.assets import DRUMS_CC0_DIR
    from beatlm.evaluation.model_report import _check_inputs
    prompts = tmp_path / "p.txt"
    prompts.write_text("trap beat\n")
    assert _check_inputs(prompts, 1.0, 1, None, None)[2] == DRUMS_CC0_DIR


@pytest.mark.parametrize("setup,message", [
    ("missing", "does not exist"),
    ("empty", "holds no prompt"),
    ("not_empty", "not empty"),
    ("bad_reference", "manifest"),
    ("bad_codec_audio", "codec audio folder"),
    ("zero_seeds", "seeds must be at least 1"),
    ("no_prompts_option", "needs --prompts"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_bundle, tmp_path, capsys, setup, message):
    prompts, out, extra = tmp_path / "p.txt", tmp_path / "out", []
    prompts.write_text("trap beat, 140 bpm\n")
    if setup == "missing":
        prompts = tmp_path / "nope.txt"
    elif setup == "empty":
        prompts.write_text("\n\n")
    elif setup == "not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif setup == "bad_reference":
        extra = ["--reference", str(tmp_path / "no_manifest")]
    elif setup == "bad_codec_audio":
        extra = ["--codec-audio", str(tmp_path / "no_audio")]
    elif setup == "zero_seeds":
        extra = ["--seeds", "0"]
    argv = ["eval", "--model", str(tiny_bundle), "--out", str(out), "--quiet", *extra]
    if setup != "no_prompts_option":
        argv += ["--prompts", str(prompts)]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("beatlm: error:") and message in err, err
    if setup == "not_empty":
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    elif setup != "no_prompts_option":
        assert not out.exists() or not any(out.iterdir())


def test_subcommands_still_parse():
    from beatlm.cli import evaluate
    args = build_parser().parse_args(["eval", "mulan", "--model", "m.th", "--manifest", "egs/test"])
    assert args.run is evaluate.run_mulan and args.model == "m.th" and args.manifest == ["egs/test"]
    args = build_parser().parse_args(["eval", "semantic-tokenizer", "--model", "t.th", "--manifest", "x",
                                      "--seed", "3"])
    assert args.run is evaluate.run_semantic_tokenizer and args.seed == 3
    args = build_parser().parse_args(["eval", "--prompts", "p.txt", "--out", "r"])
    assert args.run is evaluate.run_model and args.model is None and args.seeds == 2 and args.duration == 10.0
