"""Synthetic vocals for vocal removal: espeak-ng phrases, mixing levels, SI-SDR, the training script's smoke run."""

import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from beatlm.dataset_builders import vocal_mixes

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_si_sdr():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    assert vocal_mixes.si_sdr(3.0 * ref, ref) > 100  # scale-invariant
    assert vocal_mixes.si_sdr(ref + noise, ref) == pytest.approx(0.0, abs=0.3)
    assert vocal_mixes.si_sdr(ref + 0.1 * noise, ref) == pytest.approx(20.0, abs=0.5)


def test_mix_sets_the_vocal_level_and_keeps_headroom():
    rng = np.random.default_rng(1)
    beat, voice = 0.9 * rng.standard_normal(8000), rng.standard_normal(8000)
    total, vocals, backing = vocal_mixes.mix(beat, voice, 6.0)
    assert 20 * np.log10(vocal_mixes.rms(vocals) / vocal_mixes.rms(backing)) == pytest.approx(6.0, abs=1e-6)
    assert np.abs(total).max() <= 0.99 + 1e-9 and np.allclose(total, vocals + backing)


def test_vocal_pool_is_cached_and_covers_clips(tmp_path):
    pool = vocal_mixes.VocalPool(tmp_path / "phrases", 3, seed=0, variants=vocal_mixes.HELDOUT_VARIANTS,
                                 sample_rate=16000)
    assert len(pool) == 3 and all(c.dtype == np.float32 and np.abs(c).max() == pytest.approx(1.0) for c in pool.clips)
    files = sorted((tmp_path / "phrases").iterdir())
    stamps = [f.stat().st_mtime_ns for f in files]
    again = vocal_mixes.VocalPool(tmp_path / "phrases", 3, seed=0, variants=vocal_mixes.HELDOUT_VARIANTS,
                                  sample_rate=16000)
    assert [f.stat().st_mtime_ns for f in sorted((tmp_path / "phrases").iterdir())] == stamps
    assert all(np.array_equal(a, b) for a, b in zip(pool.clips, again.clips))
    vocals = vocal_mixes.compose_vocals(pool, 5 * 16000, np.random.default_rng(2), coverage=0.5)
    assert (np.abs(vocals) > 0).mean() > 0.3


@pytest.mark.slow
def test_train_small_demucs_smoke(tmp_path):
    """The training script's tiny setting: renders, trains 3 steps, saves a loadable repo, evaluates."""
    out = tmp_path / "demucs_small"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "train_small_demucs.py"), "--out", str(out),
                           "--smoke", "--threads", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "eval.json").read_text())
    assert report["mixes"] == 2 and set(report["mean"]) >= {"si_sdr_improvement", "speech_separated"}
    from beatlm.dataset_builders.demucs_repo import load_from_repo
    model = load_from_repo("beatlm_vocals", out)
    assert model.sources == ["vocals", "no_vocals"] and model.samplerate == 16000
    resumed = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "train_small_demucs.py"), "--out",
                              str(out), "--smoke", "--threads", "1"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0 and "resuming at step 3" in resumed.stdout


def trained_repo() -> Path:
    """The shipped model, or the repo folder in BEATLM_SMALL_DEMUCS_REPO (to check a newly trained one)."""
    from beatlm.assets import SMALL_DEMUCS_DIR
    return Path(os.environ.get("BEATLM_SMALL_DEMUCS_REPO", SMALL_DEMUCS_DIR))


@pytest.mark.slow
def test_trained_small_demucs_removes_synthetic_vocals(tmp_path):
    """The trained model on held-out mixes: SI-SDR improvement >= 6 dB, speech ratio after separation < 10%."""
    import soundfile as sf
    import torch

    from beatlm.dataset_builders.demucs_repo import load_from_repo
    from beatlm.dataset_builders.separation import Separator
    from beatlm.dataset_builders.synth.corpus import render_corpus
    from beatlm.metrics.vocals import speech_ratio
    render_corpus(tmp_path / "beats", num_clips=4, duration=8.0, sample_rate=32000, seed=12345, progress=False)
    pool = vocal_mixes.VocalPool(tmp_path / "phrases", 8, seed=999, variants=vocal_mixes.HELDOUT_VARIANTS,
                                 sample_rate=32000)
    separator = Separator(load_from_repo("beatlm_vocals", trained_repo()))
    rng = np.random.default_rng(0)
    gains, speech = [], []
    for path in sorted((tmp_path / "beats").rglob("*.wav")):
        beat, rate = sf.read(path, dtype="float32")
        total, _, backing = vocal_mixes.mix(beat, vocal_mixes.compose_vocals(pool, len(beat), rng, 0.7), 0.0)
        acc = separator.accompaniment(torch.from_numpy(total[None].astype(np.float32)), rate)[0].numpy()
        gains.append(vocal_mixes.si_sdr(acc, backing) - vocal_mixes.si_sdr(total, backing))
        speech.append(speech_ratio(torch.from_numpy(acc[None].astype(np.float32)), rate)[0])
    assert np.mean(gains) >= 6.0 and np.mean(speech) < 0.10, (gains, speech)
