"""Blocks of the spectral codec: an encoder of STFT magnitude frames and a decoder that predicts them.

The codec's frame rate is the STFT's hop, so every heavy layer runs at 50 frames per second instead of
the 32,000 samples per second of a waveform decoder (the Vocos approach; its ConvNeXt backbone is used as
is). The decoder predicts log-magnitudes only and gets its phase from Griffin-Lim: a network left to
predict phase from magnitude losses makes frame-wise phase that does not overlap consistently, which
sounds as a buzz at the frame rate and hides the music's pitches (see docs/codec.md).
"""

import typing as tp

import torch
from torch import nn
import torchaudio
from vocos.models import VocosBackbone

LOG_FLOOR = 1e-5  # magnitudes below this (about -100 dB of full scale) are one value to the model


class STFTFrames(nn.Module):
    """Complex STFT frames of a waveform, one per hop: `T // hop` frames for `T` samples.

    Args:
        n_fft: FFT size (and window length).
        hop_length: Samples between frames: the codec's frame rate is `sample_rate / hop_length`.
    """

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] waveform -> [B, F, ceil(T / hop)] complex frames (the last, centred past the end, dropped)."""
        x = wav.mean(dim=1)
        rest = (-x.shape[-1]) % self.hop_length
        x = nn.functional.pad(x, (0, rest))
        spec = torch.stft(x, self.n_fft, self.hop_length, window=self.window, center=True, return_complex=True)
        return spec[..., :x.shape[-1] // self.hop_length]

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """[B, F, N] complex frames -> [B, 1, length] waveform (the dropped frame repeats the last one)."""
        spec = torch.cat([spec, spec[..., -1:]], dim=-1)
        wav = torch.istft(spec, self.n_fft, self.hop_length, window=self.window, center=True,
                          length=spec.shape[-1] * self.hop_length - self.hop_length)
        wav = nn.functional.pad(wav, (0, max(0, length - wav.shape[-1])))
        return wav[:, None, :length]


class SpectralEncoder(nn.Module):
    """Log-magnitude STFT frames -> latent frames, through a Vocos ConvNeXt backbone.

    Args:
        frames: The STFT shared with the decoder.
        dimension: Latent size (what the quantizer sees).
        dim: Backbone width.
        intermediate_dim: ConvNeXt hidden width.
        num_layers: ConvNeXt blocks.
    """

    def __init__(self, frames: STFTFrames, dimension: int, dim: int, intermediate_dim: int, num_layers: int):
        super().__init__()
        self.frames = frames
        self.dimension = dimension
        # a pointwise projection first: the backbone's k=7 embed on 1281 bins would be 2 M weights
        self.input = nn.Conv1d(frames.n_bins, dim, kernel_size=1)
        self.backbone = VocosBackbone(dim, dim, intermediate_dim, num_layers)
        self.output = nn.Linear(dim, dimension)

    def encode_spec(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, F, N] complex frames -> [B, dimension, N] latents."""
        log_mag = torch.log(spec.abs().clamp(min=LOG_FLOOR))
        return self.output(self.backbone(self.input(log_mag))).transpose(1, 2)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.encode_spec(self.frames(wav))


def harmonic_templates(n_fft: int, sample_rate: int, pitches: tp.Sequence[int], harmonics: int = 16) -> torch.Tensor:
    """[P, F] STFT magnitudes of a Hann-windowed harmonic tone (partials 1/h) at each equal-tempered MIDI pitch,
    each normalised to peak 1: what one note looks like in the codec's frames."""
    n = torch.arange(n_fft, dtype=torch.float64)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    rows = []
    for pitch in pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(torch.cos(2 * torch.pi * h * f0 * n / sample_rate) / h
                   for h in range(1, harmonics + 1) if h * f0 < sample_rate / 2)
        mag = torch.fft.rfft(window * tone).abs()
        rows.append(mag / mag.max())
    return torch.stack(rows).float()


class PitchedHead(nn.Module):
    """Magnitude frames as notes plus an envelope: softplus note activations times learnable harmonic templates
    (initialised to equal-tempered harmonic tones), added to a free per-bin envelope.

    A free linear head predicts the median of where a partial may fall: a smooth spectrum whose pitch is gone
    once Griffin-Lim makes its phase (chroma of its magnitudes 0.23 after 600 updates). Notes on a semitone
    grid give the decoder sharp partials at the right bins for the price of choosing which notes sound.

    Args:
        dim: Backbone width.
        n_fft: The codec's FFT size.
        sample_rate: Audio rate.
        pitches: (lowest, highest + 1) MIDI pitch of the templates.
    """

    def __init__(self, dim: int, n_fft: int, sample_rate: int, pitches: tp.Tuple[int, int] = (24, 108)):
        super().__init__()
        templates = harmonic_templates(n_fft, sample_rate, range(*pitches))
        self.log_templates = nn.Parameter(torch.log(templates.clamp(min=1e-4)))
        self.notes = nn.Linear(dim, len(templates))
        self.envelope = nn.Linear(dim, n_fft // 2 + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, dim] -> [B, F, N] natural-log magnitudes."""
        notes = nn.functional.softplus(self.notes(x))
        mag = torch.exp(self.envelope(x).clamp(max=10.0)) + notes @ torch.exp(self.log_templates)
        return torch.log(mag.clamp(min=1e-7)).transpose(1, 2)


class SpectralDecoder(nn.Module):
    """Latent frames -> log-magnitude STFT frames -> waveform, its phase from Griffin-Lim.

    Args:
        frames: The STFT shared with the encoder.
        dimension: Latent size.
        dim: Backbone width.
        intermediate_dim: ConvNeXt hidden width.
        num_layers: ConvNeXt blocks.
        griffin_lim_iters: Griffin-Lim iterations when decoding without a phase.
        griffin_lim_seed: Seed of its random initial phase (the same codes decode to the same audio).
        pitched: A `PitchedHead` (notes + envelope) instead of one linear layer to the log-magnitudes.
        sample_rate: Audio rate (for the pitched head's templates).
    """

    def __init__(self, frames: STFTFrames, dimension: int, dim: int, intermediate_dim: int, num_layers: int,
                 griffin_lim_iters: int = 32, griffin_lim_seed: int = 0, pitched: bool = False,
                 sample_rate: int = 32000):
        super().__init__()
        self.frames = frames
        self.backbone = VocosBackbone(dimension, dim, intermediate_dim, num_layers)
        self.output: nn.Module = (PitchedHead(dim, frames.n_fft, sample_rate) if pitched
                                  else nn.Linear(dim, frames.n_bins))
        self.pitched = pitched
        self.griffin_lim_iters, self.griffin_lim_seed = int(griffin_lim_iters), int(griffin_lim_seed)

    def log_magnitude(self, latent: torch.Tensor) -> torch.Tensor:
        """[B, dimension, N] -> [B, F, N] natural-log magnitudes."""
        x = self.backbone(latent)
        return self.output(x) if self.pitched else self.output(x).transpose(1, 2).clamp(max=10.0)

    def forward(self, latent: torch.Tensor, length: tp.Optional[int] = None) -> torch.Tensor:
        """[B, dimension, N] latents -> [B, 1, length] waveform (default length: N hops)."""
        mag = torch.exp(self.log_magnitude(latent))
        return self.griffin_lim(mag, length or mag.shape[-1] * self.frames.hop_length)

    def griffin_lim(self, mag: torch.Tensor, length: int) -> torch.Tensor:
        """[B, F, N] magnitudes -> [B, 1, length] waveform, torchaudio's fast Griffin-Lim (momentum 0.99)."""
        frames = self.frames
        padded = torch.cat([mag, mag[..., -1:]], dim=-1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.griffin_lim_seed)
            wav = torchaudio.functional.griffinlim(
                padded, frames.window, frames.n_fft, frames.hop_length, frames.n_fft, power=1.0,
                n_iter=self.griffin_lim_iters, momentum=0.99, length=mag.shape[-1] * frames.hop_length, rand_init=True)
        wav = nn.functional.pad(wav, (0, max(0, length - wav.shape[-1])))
        return wav[:, None, :length]
