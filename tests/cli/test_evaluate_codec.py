"""`beatlm eval codec`: a codec (and Opus) on a folder of audio; bad input is one line, exit 2, nothing written."""

import json
import shutil

import pytest

from beatlm.cli.main import main


@pytest.fixture
def clips(beat_corpus, tmp_path):
    """Three rendered beats with their MusicInfo sidecars."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for wav in sorted((beat_corpus / "audio").rglob("*.wav"))[:3]:
        shutil.copy(wav, folder)
        shutil.copy(wav.with_suffix(".json"), folder)
    return folder


@pytest.fixture
def codec_sig(codec_xp):
    return f"//sig/{codec_xp[1].sig}"


def test_report_with_opus_and_a_skipped_file(codec_sig, clips, tmp_path, capsys):
    (clips / "broken.wav").write_bytes(b"RIFF not really a wav")
    out = tmp_path / "report"
    assert main(["eval", "codec", "--codec", codec_sig, "--audio", str(clips), "--opus", "6", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed and "broken.wav" in printed
    report = json.loads((out / "report.json").read_text())
    assert list(report["versions"]) == ["original", codec_sig, "opus 6 kbps"]
    assert report["frame_rate"] == 50 and report["tokens_per_second"] == 200
    assert [s["file"].endswith("broken.wav") for s in report["skipped"]] == [True]
    for name, s in report["versions"].items():
        assert s["files"] == 3 and s["tempo_labelled"] == 3
        for key in ("chroma_corr", "onset_corr", "log_mel_l1_db", "frame_rate_peaks", "si_snr_db", "tempo_accuracy"):
            assert s[key] == s[key] and abs(s[key]) < 1e3, (name, key)  # finite
    original = report["versions"]["original"]
    assert original["chroma_corr"] == pytest.approx(1.0) and original["log_mel_l1_db"] == 0.0
    assert report["versions"][codec_sig]["chroma_corr"] < 1.0
    md = (out / "report.md").read_text()
    assert "| opus 6 kbps | 3 |" in md and "broken.wav" in md
    assert (out / "spectrograms.png").stat().st_size > 1000


def test_corpus_folder_and_limit(codec_sig, beat_corpus, tmp_path):
    out = tmp_path / "report"
    assert main(["eval", "codec", "--codec", codec_sig, "--corpus", str(beat_corpus), "--limit", "2",
                 "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["versions"]) == ["original", codec_sig] and report["versions"]["original"]["files"] == 2


@pytest.mark.parametrize("setup,message", [
    ("no_audio", "holds no audio file"),
    ("all_unreadable", "no audio file could be read"),
    ("not_a_codec", "not a codec"),
    ("no_ffmpeg", "needs ffmpeg"),
    ("not_empty", "not empty"),
    ("out_is_a_file", "is a file"),
])
def test_bad_input_is_one_line_and_exit_2(codec_sig, clips, tmp_path, monkeypatch, capsys, setup, message):
    out, audio, codec, extra = tmp_path / "out", clips, codec_sig, []
    if setup == "no_audio":
        audio = tmp_path / "empty"
        audio.mkdir()
        (audio / "notes.txt").write_text("no audio here")
    elif setup == "all_unreadable":
        audio = tmp_path / "broken"
        audio.mkdir()
        (audio / "a.wav").write_bytes(b"nope")
    elif setup == "not_a_codec":
        import torch
        codec = str(tmp_path / "weights.th")
        torch.save({"weights": torch.zeros(2)}, codec)
    elif setup == "no_ffmpeg":
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
        extra = ["--opus", "6"]
    elif setup == "not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif setup == "out_is_a_file":
        out.write_text("mine")
    capsys.readouterr()
    assert main(["eval", "codec", "--codec", codec, "--audio", str(audio), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("beatlm: error:") and message in err, err
    if setup == "not_empty":
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    elif setup == "out_is_a_file":
        assert out.read_text() == "mine"
    else:
        assert not out.exists()
