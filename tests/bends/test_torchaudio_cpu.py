"""The torchaudio bend: no compiled extension, pure-Python transforms work (audiocraft needs them)."""

import torch


def test_no_compiled_extension_left():
    from beatlm.bends.torchaudio_cpu import extension_libraries
    assert extension_libraries() == []
    import torchaudio
    assert torchaudio._extension._IS_TORCHAUDIO_EXT_AVAILABLE is False


def test_transforms_audiocraft_uses_work():
    import torchaudio
    wav = torch.randn(1, 16000)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_mels=32)(wav)
    assert mel.shape[1] == 32 and torch.isfinite(mel).all()
    assert torchaudio.transforms.Resample(16000, 32000)(wav).shape[-1] == 32000
    import audiocraft.losses  # noqa: F401  (imports torchaudio transforms at import time)
