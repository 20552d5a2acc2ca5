"""Vocal presence with silero-vad: speech scores high, drums and silence low; torch's thread count is kept."""

from pathlib import Path
import shutil
import subprocess
import typing as tp

import numpy as np
import pytest
import torch

from beatlm.metrics import vocals


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> torch.Tensor:
    """About 5 s of espeak-ng speech at 22.05 kHz, [1, T]."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    import soundfile as sf
    path = Path(tmp_path_factory.mktemp("speech")) / "speech.wav"
    text = "The quick brown fox jumps over the lazy dog, then runs far away into the forest to hide."
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    wav, sr = sf.read(path, dtype="float32")
    assert sr == 22050
    return torch.from_numpy(wav)[None]


def _drum_loop(seconds: float = 4.0) -> tp.Tuple[torch.Tensor, int]:
    """A boom-bap pattern of the bundled CC0 kick and snare at 90 BPM: ([1, T], their sample rate)."""
    import soundfile as sf

    from beatlm.assets import DRUMS_CC0_DIR
    kick, sr_kick = sf.read(DRUMS_CC0_DIR / "bd_boom.flac", dtype="float32", always_2d=True)
    snare, sr_snare = sf.read(DRUMS_CC0_DIR / "drum_snare_hard.flac", dtype="float32", always_2d=True)
    assert sr_kick == sr_snare
    out = np.zeros(int(seconds * sr_kick), np.float32)
    beat = 60 / 90
    for k, t in enumerate(np.arange(0, seconds, beat / 2)):
        hit = kick if k % 4 in (0, 3) else snare if k % 4 == 2 else None
        if hit is not None:
            start = int(t * sr_kick)
            piece = hit.mean(axis=1)[:len(out) - start]
            out[start:start + len(piece)] += piece
    return torch.from_numpy(0.5 * out / np.abs(out).max())[None], sr_kick


def test_speech_has_a_high_speech_ratio(speech):
    ratio = vocals.speech_ratio(speech, 22050)
    assert len(ratio) == 1 and ratio[0] > 0.5


def test_drums_and_silence_have_almost_none():
    drums, sr = _drum_loop()
    ratio = vocals.speech_ratio(drums, sr)[0]
    assert ratio < vocals.SPEECH_FREE_RATIO
    assert vocals.speech_ratio(torch.zeros(1, 16000), 16000) == [0.0]


def test_batch_and_shapes(speech):
    import julius
    drums, sr = _drum_loop(seconds=2.0)
    drums = julius.resample_frac(drums, sr, 22050)
    batch = torch.stack([speech[:, :drums.shape[-1]], drums])  # [2, 1, T]
    ratios = vocals.speech_ratio(batch, 22050)
    assert len(ratios) == 2 and ratios[0] > 0.5 > ratios[1]
    probs = vocals.speech_probabilities(batch, 22050)
    assert probs.shape == (2, -(-int(round(drums.shape[-1] * 16000 / 22050)) // vocals.VAD_WINDOW))
    assert vocals.speech_probabilities(torch.zeros(100), 16000).shape == (1, 1)  # shorter than one window


def test_thread_count_is_kept():
    before = torch.get_num_threads()
    vocals.load_vad()
    vocals.speech_ratio(torch.zeros(1, 16000), 16000)
    assert torch.get_num_threads() == before
