"""The fast-WAV bend: audiocraft's datasets read WAV through soundfile, with PyAV's samples."""

import numpy as np
import soundfile as sf
import torch

from beatlm.bends import fast_wav_read


def test_same_samples_as_audiocraft_reader(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "x.wav"
    sf.write(path, (rng.standard_normal((48000, 2)) * 0.2).clip(-1, 1), 16000, subtype="PCM_16")
    for seek, duration, pad in [(0.0, -1.0, False), (0.5, 1.0, False), (2.5, 1.0, True), (2.9, 0.5, False)]:
        ours, sr = fast_wav_read.audio_read(path, seek, duration, pad)
        theirs, sr2 = fast_wav_read._original(path, seek, duration, pad)
        assert sr == sr2 == 16000
        assert ours.shape == theirs.shape, (seek, duration, pad)
        assert torch.allclose(ours, theirs, atol=1e-4)


def test_installed_where_datasets_read():
    from beatlm import bends
    bends.apply()
    from audiocraft.data import audio, audio_dataset
    assert audio_dataset.audio_read is fast_wav_read.audio_read
    assert audio.audio_read is fast_wav_read.audio_read
