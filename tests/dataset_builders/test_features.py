"""Per-clip features: shapes and metadata of the .npz, skipped re-runs, corrupt clips counted."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beatlm.dataset_builders import features
from beatlm.utils.errors import BeatLMError


@pytest.fixture
def clips(tmp_path) -> Path:
    root = tmp_path / "clips"
    (root / "track").mkdir(parents=True)
    t = np.arange(2 * 16000) / 16000
    sf.write(root / "track" / "a.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    sf.write(root / "track" / "b.wav", np.zeros((16000, 2), dtype=np.float32), 16000)
    (root / "track" / "c.wav").write_bytes(b"RIFF....WAVEjunk")
    (root / "track" / "a.json").write_text("{}")
    return root


def test_feature_shapes_and_metadata(clips):
    summary = features.run_features(clips, progress=False)
    assert (summary.done, summary.skipped, len(summary.failed)) == (2, 0, 1)
    assert "c.wav" in summary.failed[0][0]
    data = features.load_features(clips / "track" / "a.npz")
    frames = 1 + (2 * 22050) // 512  # 2 s analysed at 22.05 kHz, centred frames
    assert data["mel"].shape == (128, frames) and data["mel"].dtype == np.float32
    assert data["mfcc"].shape == (20, frames) and data["chroma"].shape == (12, frames)
    assert int(data["sample_rate"]) == 22050 and int(data["hop_length"]) == 512 and int(data["n_fft"]) == 2048
    assert np.argmax(data["chroma"].mean(axis=1)) == 9  # 440 Hz is an A
    assert features.load_features(clips / "track" / "b.npz")["mel"].shape == (128, 1 + 22050 // 512)
    assert not list(clips.rglob(".*"))


def test_features_rerun_skips_and_force_recomputes(clips):
    features.run_features(clips, n_mels=40, n_mfcc=13, progress=False)
    (clips / "track" / ".a.npz.x1y2.tmp").write_bytes(b"killed mid-write")
    again = features.run_features(clips, n_mels=40, n_mfcc=13, progress=False)
    assert (again.done, again.skipped, len(again.failed)) == (0, 2, 1)
    assert not (clips / "track" / ".a.npz.x1y2.tmp").exists()
    forced = features.run_features(clips, n_mels=64, n_mfcc=13, force=True, progress=False)
    assert forced.done == 2 and features.load_features(clips / "track" / "a.npz")["mel"].shape[0] == 64


def test_features_reject_bad_settings(clips):
    with pytest.raises(BeatLMError, match="n-mfcc"):
        features.run_features(clips, n_mels=10, n_mfcc=20, progress=False)
    with pytest.raises(BeatLMError, match="positive"):
        features.run_features(clips, hop_length=0, progress=False)
