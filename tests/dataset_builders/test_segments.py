"""Beat-aligned clips: a click track at a known tempo, sidecars, all-or-nothing tracks, resumable runs."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beatlm.dataset_builders import segments
from beatlm.utils.errors import BeatLMError

BPM = 120.0
RATE = 22050


def click_track(seconds: float, bpm: float = BPM, rate: int = RATE, offset: float = 0.25) -> np.ndarray:
    """Decaying 1 kHz clicks on every beat, louder on the downbeat, starting at `offset` seconds."""
    wav = np.zeros(int(seconds * rate), dtype=np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.03 * rate)) / rate) * np.exp(-np.arange(int(0.03 * rate)) / 100)
    for i, t in enumerate(np.arange(offset, seconds, 60 / bpm)):
        start = int(t * rate)
        piece = click[:len(wav) - start] * (0.8 if i % 4 == 0 else 0.5)
        wav[start:start + len(piece)] += piece
    return wav


@pytest.fixture
def tracks(tmp_path) -> Path:
    root = tmp_path / "instrumental"
    root.mkdir()
    sf.write(root / "clicks.wav", np.stack([click_track(21.0)] * 2, axis=1), RATE)
    timeline = [0.0] * 10 + [1.0] * 11  # 'speech' in the second half, as separation records it
    (root / "clicks.json").write_text(json.dumps({
        "source_id": "youtube xyz", "title": "Clicks", "description": "a click track", "duration": 21.0,
        "beatlm": {"vocals": {"speech_ratio": 0.5, "threshold": 0.1, "flagged": True, "timeline": timeline}}}))
    sf.write(root / "short.wav", click_track(3.0), RATE)
    (root / "broken.flac").write_bytes(b"fLaC garbage")
    return root


def test_plan_clips_start_on_beats_without_overlap():
    beats = np.arange(0.25, 21, 0.5)
    starts = segments.plan_clips(beats, 4.0, 21.0)
    assert starts == [0.25, 4.25, 8.25, 12.25, 16.25]
    assert segments.plan_clips(beats, 4.0, 21.0, max_clips=2) == [0.25, 4.25]
    assert segments.plan_clips(beats, 30.0, 21.0) == []


def test_segment_click_track(tracks, tmp_path):
    out = tmp_path / "clips"
    summary = segments.run_segmentation(tracks, out, duration=4.0, sample_rate=16000, channels=1, progress=False)
    assert (summary.done, len(summary.failed)) == (2, 1) and "broken.flac" in summary.failed[0][0]
    assert summary.extra["clips"] == 5 and summary.extra["too_short"] == 1
    index = json.loads((out / "clicks" / "clips.json").read_text())
    assert abs(index["track_bpm"] - BPM) <= 0.04 * BPM
    beat_grid = 0.25 + np.arange(0, 42) * 0.5
    for i, clip in enumerate(index["clips"]):
        assert np.abs(beat_grid - clip["start"]).min() < 0.05  # each clip starts on a beat
        wav, rate = sf.read(out / "clicks" / f"clicks_{i:04d}.wav")
        assert rate == 16000 and wav.shape == (4 * 16000,)
        info = json.loads((out / "clicks" / f"clicks_{i:04d}.json").read_text())
        assert info["source_id"] == "youtube xyz" and info["name"] == f"clicks_{i:04d}"
        assert abs(info["bpm"] - BPM) <= 0.04 * BPM and info["key"].split()[1] in ("major", "minor")
        assert info["duration"] == 4.0 and info["sample_rate"] == 16000 and info["channels"] == 1
        start = info["beatlm"]["segment"]["start"]
        expected = np.clip((start + 4.0 - 10.0) / 4.0, 0, 1)  # share of the clip inside the 'speech' half
        assert info["beatlm"]["vocals"]["speech_ratio"] == pytest.approx(expected, abs=0.15)
        assert info["beatlm"]["vocals"]["flagged"] == (info["beatlm"]["vocals"]["speech_ratio"] > 0.1)
    assert json.loads((out / "short" / "clips.json").read_text())["clips"] == []


def test_segment_resumes_and_ignores_partial_tracks(tracks, tmp_path):
    out = tmp_path / "clips"
    segments.run_segmentation(tracks, out, duration=8.0, progress=False)
    before = sorted(p.name for p in (out / "clicks").iterdir())
    stale = out / ".other.partial"  # what a kill -9 in the middle of a track leaves
    stale.mkdir()
    (stale / "other_0000.wav").write_bytes(b"half a clip")
    again = segments.run_segmentation(tracks, out, duration=8.0, progress=False)
    assert (again.done, again.skipped, len(again.failed)) == (0, 2, 1)
    assert not stale.exists() and sorted(p.name for p in (out / "clicks").iterdir()) == before
    forced = segments.run_segmentation(tracks, out, duration=8.0, force=True, progress=False)
    assert forced.done == 2


def test_segment_rejects_bad_arguments(tracks, tmp_path):
    with pytest.raises(BeatLMError, match="duration"):
        segments.run_segmentation(tracks, tmp_path / "c", duration=0, progress=False)
    with pytest.raises(BeatLMError, match="another folder"):
        segments.run_segmentation(tracks, tracks, progress=False)
    with pytest.raises(BeatLMError, match="does not exist"):
        segments.run_segmentation(tmp_path / "missing", tmp_path / "c", progress=False)
