import shutil

import numpy as np
import soundfile as sf

from beatlm.dataset_builders.synth import stats


def test_report_on_tiny_corpus(tiny_corpus, tmp_path):
    report = stats.corpus_stats(tiny_corpus, analyse=2, workers=1)
    assert report["clips"] == 6 and sum(report["styles"].values()) == 6
    assert report["files"]["problems"] == []
    assert report["files"]["peak_dbfs_max"] <= -0.99
    assert report["accuracy"]["clips"] == 2
    assert report["speed"]["cpu_s_per_10s_clip_mean"] > 0
    text = stats.format_report(report)
    assert "styles:" in text and "keys" in text and "instruments:" in text and "captions:" in text
    png = stats.plot_report(report, tmp_path / "s.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_checks_catch_bad_files(tiny_corpus, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(tiny_corpus, copy)
    wav = next((copy / "audio" / "train").glob("*.wav"))
    sf.write(wav, np.zeros(4 * 32000, np.int16), 32000, subtype="PCM_16")
    wav2 = sorted((copy / "audio" / "train").glob("*.wav"))[1]
    sf.write(wav2, np.full(2 * 16000, 32767, np.int16), 16000, subtype="PCM_16")
    problems = stats.corpus_stats(copy, analyse=0)["files"]["problems"]
    text = "\n".join(problems)
    assert "silent" in text and "clipped" in text and "sample rate 16000" in text and "duration" in text


def test_musiccaps_comparison(tmp_path):
    csv = tmp_path / "mc.csv"
    csv.write_text("ytid,caption\na,A mellow piano plays chords over a slow hip hop beat.\n"
                   "b,\"This is an energetic trap song with heavy bass.\"\n")
    ours = stats.caption_stats(["slow hip hop beat with piano", "trap beat, heavy bass, 140 bpm"])
    result = stats.compare_musiccaps(ours, csv)
    assert result["musiccaps"]["count"] == 2
    assert 0 < result["our_types_in_musiccaps"] < 1 and "140" in result["our_words_not_in_musiccaps"]
