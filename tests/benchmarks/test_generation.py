"""`beatlm bench generation` on the tiny bundle: every system, batch size and ratio reported, JSON written."""

import json

from beatlm.benchmarks.generation import ratios
from beatlm.cli.main import main


def test_bench_generation_report(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "generation", "--model", str(tiny_bundle), "--seconds", "0.5", "--batch", "1", "2",
                 "--repeats", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    systems = {(row["system"], row["batch"]) for row in report["rows"]}
    assert systems == {(s, b) for s in ("beatlm", "musicgen_style", "audiolm_pytorch") for b in (1, 2)}
    for row in report["rows"]:
        assert row["wall_s"] > 0 and row["peak_rss_mb"] > 100 and abs(row["rtf"] - row["wall_s"] / 0.5) < 1e-9
        assert row["wall_s"] >= max(row["stages_s"].values()) and row["wall_s"] == min(row["runs_s"])
        assert len(row["runs_s"]) == 2
    beatlm = next(r for r in report["rows"] if r["system"] == "beatlm" and r["batch"] == 2)
    assert set(beatlm["stages_s"]) >= {"semantic", "coarse", "fine", "decode"}
    assert abs(report["params"]["musicgen_style"] - report["params"]["beatlm"]) < 0.15 * report["params"]["beatlm"]
    assert report["ratios"] == ratios(report["rows"]) and set(report["ratios"]) == {"musicgen_style", "audiolm_pytorch"}
    cold = report["cold_start"]
    assert cold["total_s"] >= cold["import_s"] + cold["load_s"] and cold["peak_rss_mb"] > 100
    assert "| beatlm | 1 |" in capsys.readouterr().out


def test_ratios():
    rows = [{"system": "beatlm", "batch": 1, "wall_s": 2.0}, {"system": "x", "batch": 1, "wall_s": 4.0},
            {"system": "x", "batch": 8, "wall_s": 4.0}]
    assert ratios(rows) == {"x": {"1": 0.5}}


def test_peak_rss_measures_the_block():
    import numpy as np

    from beatlm.benchmarks.generation import PeakRSS, peak_rss_mb
    before = peak_rss_mb()
    with PeakRSS() as small:
        pass
    with PeakRSS() as large:
        block = np.ones(300 * 2 ** 20 // 8)  # 300 MB touched
        del block
    assert large.peak_mb > small.peak_mb + 250 and small.peak_mb <= before + 1
