"""The audio front-end of MuLaN: log-mel frames, and the SpecAugment used while training.

musiclm-pytorch's AudioSpectrogramTransformer can compute a linear spectrogram from raw audio, but
its dynamic position bias is an MLP over every pair of patches, so raw 10 s clips cost gigabytes;
it is fed log-mel frames instead (`accept_spec=True`, time first). Its own SpecAugment calls
torchaudio's TimeStretch with the arguments in the wrong order and needs a complex spectrogram, so
BeatLM replaces it with frequency and time masking on the log-mel frames.
"""

import typing as tp

import torch
from torch import nn
import torchaudio


class LogMelFrontend(nn.Module):
    """Mono waveform [B, T] at `sample_rate` -> log-mel frames [B, frames, n_mels] (time first).

    Args:
        sample_rate: Expected sample rate of the input.
        n_mels: Mel bands (a multiple of the AST patch size).
        n_fft: FFT size.
        win_length: Window length in samples.
        hop_length: Hop in samples (320 at 16 kHz: 50 frames per second).
        f_min: Lowest mel frequency.
        f_max: Highest mel frequency (None: Nyquist).
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, n_fft: int = 1024, win_length: int = 640,
                 hop_length: int = 320, f_min: float = 0.0, f_max: tp.Optional[float] = None):
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
            f_min=f_min, f_max=f_max, n_mels=n_mels, power=2.0)

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        mel = self.mel(wav.float())
        return torch.log(mel.clamp(min=1e-6)).transpose(-1, -2)


class SpecAugment(nn.Module):
    """Frequency and time masking of [B, frames, n_mels] log-mel frames, in training mode only.

    Args:
        freq_mask: Largest number of consecutive mel bands masked.
        time_mask: Largest number of consecutive frames masked.
    """

    def __init__(self, freq_mask: int = 8, time_mask: int = 20):
        super().__init__()
        self.freq = torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True) if freq_mask else None
        self.time = torchaudio.transforms.TimeMasking(time_mask, iid_masks=True) if time_mask else None

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return frames
        spec = frames.transpose(-1, -2).unsqueeze(1)  # [B, 1, n_mels, frames], as torchaudio expects
        fill = spec.mean()
        spec = spec - fill  # masks write zeros: mask to the mean level rather than to silence-minus-mean
        for mask in (self.freq, self.time):
            if mask is not None:
                spec = mask(spec)
        return (spec + fill).squeeze(1).transpose(-1, -2)
