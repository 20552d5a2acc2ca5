"""The corpus is held to its labels: a 200-clip render, measured the way the stats report measures it."""

import pytest


@pytest.mark.slow
def test_200_clip_render_meets_tempo_key_and_speed_targets(tmp_path):
    from beatlm.dataset_builders.synth import corpus, stats
    out = tmp_path / "beats200"
    corpus.render_corpus(out, num_clips=200, duration=10.0, sample_rate=32000, seed=0, workers=2, progress=False)
    report = stats.corpus_stats(out, analyse=200, workers=2)
    print(stats.format_report(report))
    assert report["files"]["problems"] == []
    assert -30 <= report["files"]["lufs_min"] and report["files"]["lufs_max"] <= -6
    assert report["files"]["peak_dbfs_max"] < 0
    assert report["accuracy"]["clips"] == 200
    assert report["accuracy"]["tempo"] >= 0.90  # librosa beat tracker within 4 %, octave errors are misses
    assert report["accuracy"]["key"] >= 0.70  # chroma key estimate, key and mode
    assert report["speed"]["cpu_s_per_10s_clip_mean"] <= 0.5
