"""The audio front-end of MuLaN: log-mel frames, and the SpecAugment used while training.

musiclm-pytorch's AudioSpectrogramTransformer can compute a linear spectrogram from raw audio, but
its dynamic position bias is an MLP over every pair of patches, so raw 10 s clips cost gigabytes;
it is fed log-mel frames instead (`accept_spec=True`, time first). Its own SpecAugment calls
torchaudio's TimeStretch with the arguments in the wrong order and needs a complex spectrogram, so
BeatLM replaces it with frequency and time masking on the log-mel frames.

Optionally, chroma rows follow the mel bands: 64 mel bands up to 16 kHz are ~60 Hz wide in the bass,
far wider than a semitone, so a key is hard to hear in mel frames alone. librosa's chroma filter bank
folds the same power spectrum onto the 12 pitch classes (audiocraft's `ChromaExtractor` does the same
from a second, 4096-point STFT: twice the front-end's cost when the corpus's frames are computed).
"""

import typing as tp

import torch
from torch import nn
import torchaudio


class LogMelFrontend(nn.Module):
    """Mono waveform [B, T] at `sample_rate` -> log-mel frames [B, frames, n_bins] (time first).

    `n_bins` is `n_mels + n_chroma`: the mel bands, then (if any) the chroma rows.

    Args:
        sample_rate: Expected sample rate of the input.
        n_mels: Mel bands (`n_mels + n_chroma` a multiple of the AST patch size).
        n_fft: FFT size.
        win_length: Window length in samples.
        hop_length: Hop in samples (320 at 16 kHz: 50 frames per second).
        f_min: Lowest mel frequency.
        f_max: Highest mel frequency (None: Nyquist).
        n_chroma: Chroma rows after the mel bands (0: none; 12: one per semitone). Each frame's chroma is
            scaled to a maximum of 1 and log-compressed.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 64, n_fft: int = 1024, win_length: int = 640,
                 hop_length: int = 320, f_min: float = 0.0, f_max: tp.Optional[float] = None, n_chroma: int = 0):
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.n_bins = n_mels + n_chroma
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
            f_min=f_min, f_max=f_max, n_mels=n_mels, power=2.0)
        bank = None
        if n_chroma:
            from librosa.filters import chroma
            bank = torch.from_numpy(chroma(sr=sample_rate, n_fft=n_fft, n_chroma=n_chroma, tuning=0.0)).float()
        self.register_buffer("chroma", bank, persistent=False)  # [n_chroma, n_fft // 2 + 1], or None

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        power = self.mel.spectrogram(wav.float())  # what MelSpectrogram computes, kept for the chroma
        frames = torch.log(self.mel.mel_scale(power).clamp(min=1e-6)).transpose(-1, -2)
        if self.chroma is None:
            return frames
        chroma = torch.einsum("cf,...ft->...tc", self.chroma, power)
        chroma = chroma / chroma.amax(dim=-1, keepdim=True).clamp(min=1e-10)
        return torch.cat([frames, torch.log(chroma.clamp(min=1e-3))], dim=-1)  # below 1e-3 of the loudest: none


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
