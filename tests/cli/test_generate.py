"""`beatlm generate`: files and sidecars, seeds, formats, and one clear line (exit 2) for every bad input."""

import json

import pytest

from beatlm.cli.main import main


def _generate(bundle, out, *extra):
    return main(["generate", "--model", str(bundle), "--duration", "1", "--out", str(out), "--quiet", *extra])


def test_round_trip_and_same_seed(tiny_bundle, tmp_path, capsys):
    assert _generate(tiny_bundle, tmp_path / "a", "trap beat, 140 bpm", "--seed", "7", "--candidates", "2") == 0
    assert _generate(tiny_bundle, tmp_path / "b", "trap beat, 140 bpm", "--seed", "7", "--candidates", "2") == 0
    wav = tmp_path / "a" / "000-trap-beat-140-bpm-s7-0.wav"
    assert str(wav) in capsys.readouterr().out
    sidecar = json.loads(wav.with_suffix(".json").read_text())
    assert sidecar["prompt"] == "trap beat, 140 bpm" and sidecar["seed"] == 7
    assert len(sidecar["candidate_scores"]) == 2 and sidecar["mulan_score"] == max(sidecar["candidate_scores"])
    assert set(sidecar["timings_s"]) >= {"semantic", "coarse", "fine", "decode"}
    assert sidecar["params"]["num_candidates"] == 2 and len(sidecar["model"]["hash"]) == 16
    assert abs(sidecar["duration_s"] - 1.0) < 1e-6
    assert wav.read_bytes() == (tmp_path / "b" / wav.name).read_bytes()


def test_prompts_file_samples_and_formats(tiny_bundle, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# beats\nboom bap, 90 bpm\n\n🔥🔥\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _generate(tiny_bundle, out, "--prompts-file", str(prompts), "--seed", "1", "--num-samples", "2",
                     "--format", "flac") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["000-boom-bap-90-bpm-s1-0.flac", "000-boom-bap-90-bpm-s1-0.json",
                     "000-boom-bap-90-bpm-s1-1.flac", "000-boom-bap-90-bpm-s1-1.json",
                     "001-beat-s2-0.flac", "001-beat-s2-0.json", "001-beat-s2-1.flac", "001-beat-s2-1.json"]
    import soundfile
    info = soundfile.info(str(out / names[0]))
    assert info.samplerate == 32000 and abs(info.duration - 1.0) < 0.01
    assert _generate(tiny_bundle, out, "lofi", "--seed", "1", "--format", "mp3") == 0
    from audiocraft.data.audio import audio_info
    assert abs(audio_info(out / "000-lofi-s1-0.mp3").duration - 1.0) < 0.1


def test_existing_output(tiny_bundle, tmp_path, capsys):
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "1") == 0
    target = tmp_path / "000-trap-s1-0.wav"
    before = target.read_bytes()
    capsys.readouterr()
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "1") == 2
    assert "already exists" in capsys.readouterr().err and target.read_bytes() == before
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "1", "--overwrite") == 0


@pytest.mark.parametrize("args,message", [
    (["", "--seed", "1"], "empty"),
    (["trap", "--duration", "0"], "--duration"),
    (["trap", "--duration", "100000"], "--duration"),
    (["trap", "--candidates", "0"], "at least 1"),
    (["trap", "--temperature", "1", "2"], "--temperature"),
    (["boom bap " * 400], "tokens long"),
    ([], "no prompt"),
])
def test_bad_input_one_line_exit_2(tiny_bundle, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["generate", "--model", str(tiny_bundle), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_bad_model_and_output(tmp_path, capsys, tiny_bundle):
    assert main(["generate", "trap", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["generate", "trap", "--model", str(tiny_bundle), "--out", str(afile), "--quiet"]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "trap", "--format", "ogg"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_hub_name_offline_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("AUDIOCRAFT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["generate", "trap", "--model", "someone/some-bundle", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "hub did not provide it" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_no_default_model_yet_says_what_to_do(tmp_path, capsys, monkeypatch):
    from beatlm.models import loaders
    monkeypatch.setattr(loaders, "default_bundle", lambda: tmp_path / "none")
    assert main(["generate", "trap", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "--model" in capsys.readouterr().err
