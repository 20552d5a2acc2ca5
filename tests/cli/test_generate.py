"""`beatlm generate`: files and sidecars, seeds, formats, and one clear line (exit 2) for every bad input."""

import json
import os
import shutil
import subprocess
import sys

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


def test_existing_sidecar_or_folder_in_the_way(tiny_bundle, tmp_path, capsys):
    (tmp_path / "000-trap-s1-0.json").write_text("{}")  # the audio file is free, its sidecar is not
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "1") == 2
    assert "000-trap-s1-0.json already exists" in _one_line(capsys)
    (tmp_path / "000-trap-s1-0.json").unlink()
    (tmp_path / "000-trap-s1-0.wav").mkdir()
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "1", "--overwrite") == 2
    assert "is a folder" in _one_line(capsys)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("beatlm: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("args,message", [
    (["", "--seed", "1"], "empty"),
    (["trap", "--duration", "0"], "--duration"),
    (["trap", "--duration", "100000"], "--duration"),
    (["trap", "--candidates", "0"], "at least 1"),
    (["trap", "--temperature", "1", "2"], "--temperature"),
    (["boom bap " * 400], "tokens long"),
    ([], "no prompt"),
    (["\u200b\u2060 "], "empty"),  # invisible characters only
    (["trap", "--duration", "0.3"], "--duration"),  # too short to decode and to normalise
    (["trap", "--duration", "nan"], "--duration"),
    (["trap", "--format", "ogg"], "--format"),
    (["trap", "--seed", "-1"], "--seed"),
    (["trap", "--seed", str(2 ** 64)], "--seed"),
    (["trap", "--cfg-coef", "nan"], "--cfg-coef"),
    (["trap", "--top-p", "2"], "--top-p"),
    (["trap", "--top-k", "-1"], "--top-k"),
])
def test_bad_input_one_line_exit_2(tiny_bundle, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["generate", "--model", str(tiny_bundle), "--out", str(out), "--quiet", *args]) == 2
    assert message in _one_line(capsys)
    assert not out.exists()  # not even an empty folder


def test_bad_model_and_output(tmp_path, capsys, tiny_bundle):
    assert main(["generate", "trap", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["generate", "trap", "--model", str(tiny_bundle), "--out", str(afile), "--quiet"]) == 2
    assert "cannot create output folder" in capsys.readouterr().err
    assert main(["generate", "trap", "--model", str(tiny_bundle), "--out", str(afile / "sub"), "--quiet"]) == 2
    assert "is a file" in _one_line(capsys)


def test_unwritable_output_folder(tiny_bundle, tmp_path, capsys, monkeypatch):
    from beatlm.cli import generate
    locked = tmp_path / "locked"
    locked.mkdir()
    # chmod does not stop root (these tests may run as root): the check goes through os.access
    monkeypatch.setattr(generate.os, "access", lambda path, mode: str(path) != str(locked))
    assert _generate(tiny_bundle, locked, "trap", "--seed", "1") == 2
    assert "is not writable" in _one_line(capsys)
    assert _generate(tiny_bundle, locked / "new" / "deeper", "trap", "--seed", "1") == 2
    assert "cannot create output folder" in _one_line(capsys) and list(locked.iterdir()) == []


def test_format_is_case_insensitive(tiny_bundle, tmp_path):
    assert _generate(tiny_bundle, tmp_path, "trap", "--seed", "3", "--format", "FLAC") == 0
    assert (tmp_path / "000-trap-s3-0.flac").is_file()


def _broken_bundle(bundle, tmp_path, how):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    if how == "missing":
        (copy / "fine.th").unlink()
    else:
        with open(copy / "mulan.th", "ab") as handle:
            handle.write(b"\0")
    return copy


@pytest.mark.parametrize("how,message", [("missing", "fine part is missing"), ("changed", "does not match its sha256")])
def test_broken_bundle_one_line(tiny_bundle, tmp_path, capsys, how, message):
    out = tmp_path / "out"
    assert _generate(_broken_bundle(tiny_bundle, tmp_path, how), out, "trap") == 2
    assert message in _one_line(capsys) and not out.exists()


@pytest.mark.slow
def test_one_line_in_a_real_process(tiny_bundle, tmp_path):
    """No log line beside the error (pytest captures logging, a terminal does not), nothing written."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "beatlm", "generate", "trap", "--quiet", "--out", str(out),
                           "--model", str(_broken_bundle(tiny_bundle, tmp_path, "missing"))],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"beatlm: error: {tmp_path / 'bundle'}: the bundle's fine part is "
                                                "missing (fine.th)"], proc.stderr
    assert not out.exists()


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


def test_jsonl_prompts_file(tiny_bundle, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    lines = ['{"prompt": "trap beat, 140 bpm", "bpm": 140}', "", '{"prompt": "黑暗的节拍 🔥"}']
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _generate(tiny_bundle, tmp_path / "out", "--prompts-file", str(prompts), "--seed", "5") == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["000-trap-beat-140-bpm-s5-0.wav",
                                                                        "001-beat-s6-0.wav"]
    prompts.write_text('{"prompt": "trap"}\ntrap beat\n', encoding="utf-8")
    assert _generate(tiny_bundle, tmp_path / "bad", "--prompts-file", str(prompts)) == 2
    assert "line 2 is not a JSON object" in _one_line(capsys) and not (tmp_path / "bad").exists()


def test_no_ffmpeg_is_one_line_before_loading(tmp_path, capsys, monkeypatch):
    from beatlm.cli import generate
    monkeypatch.setattr(generate.shutil, "which", lambda name: None)
    assert main(["generate", "trap", "--model", str(tmp_path / "never-loaded"), "--out", str(tmp_path / "o")]) == 2
    assert "ffmpeg is not installed" in _one_line(capsys) and not (tmp_path / "o").exists()
