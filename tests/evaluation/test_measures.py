"""Aggregating per-sample rows into metrics, per-style rows and targets met or not."""

from beatlm.evaluation import measures


def _row(style, tempo_hit=None, key_hit=None, mulan=0.5, shuffled=0.3, speech=0.0, octave=False):
    return {"style": style, "tempo_hit": tempo_hit, "tempo_octave_error": octave, "key_hit": key_hit,
            "mulan": mulan, "mulan_shuffled": shuffled, "speech_ratio": speech}


def test_targets_met_and_not():
    rows = [_row("trap", True, True), _row("trap", True, False), _row("lofi", False, None, octave=True),
            _row(None, True, True, speech=0.2)]
    metrics = measures.summarise(rows)
    assert metrics["tempo"] == {"adherence": 0.75, "samples": 4, "octave_errors": 1, "tolerance": 0.04}
    assert abs(metrics["key"]["adherence"] - 2 / 3) < 1e-9 and metrics["key"]["samples"] == 3
    assert abs(metrics["mulan"]["difference"] - 0.2) < 1e-9
    assert metrics["vocals"]["speech_free_share"] == 0.75 and metrics["vocals"]["speech_ratio_max"] == 0.2
    met = {t["name"]: t["met"] for t in measures.targets(metrics)}
    assert met == {"tempo adherence": False, "key adherence": True, "MuLaN cycle consistency": True,
                   "no vocals": False}
    styles = measures.by_style(rows)
    assert list(styles) == ["lofi", "trap", "unspecified"]
    assert styles["trap"] == {"samples": 2, "tempo": 1.0, "key": 0.5, "mulan": 0.5, "speech_free": 1.0}
    assert styles["lofi"]["key"] is None


def test_targets_not_evaluated_without_what_they_need():
    rows = [_row("trap", shuffled=None), _row("trap", shuffled=None)]
    targets = {t["name"]: t for t in measures.targets(measures.summarise(rows))}
    assert targets["tempo adherence"]["met"] is None and "no prompt names a BPM" in targets["tempo adherence"]["note"]
    assert targets["key adherence"]["met"] is None
    assert targets["MuLaN cycle consistency"]["met"] is None and targets["no vocals"]["met"] is True
