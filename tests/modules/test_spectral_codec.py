"""The spectral codec's blocks: STFT frames at the codec's frame rate, their inverse, Griffin-Lim phase."""

import numpy as np
import pytest
import torch

from beatlm.metrics.reconstruction import frame_rate_peaks, strongest_peaks
from beatlm.modules.spectral_codec import SpectralDecoder, STFTFrames

RATE, N_FFT, HOP = 32000, 2560, 640


def _sines(freqs, seconds=2.0):
    t = torch.arange(int(seconds * RATE)) / RATE
    return sum(torch.sin(2 * torch.pi * f * t) for f in freqs)[None, None] / len(freqs)


@pytest.mark.parametrize("length", [RATE, RATE + 1, RATE - HOP + 1])
def test_one_frame_per_hop_and_exact_inverse(length):
    frames = STFTFrames(N_FFT, HOP)
    wav = torch.randn(2, 1, length) * 0.1
    spec = frames(wav)
    assert spec.shape == (2, N_FFT // 2 + 1, -(-length // HOP)) and spec.is_complex()
    back = frames.inverse(spec, length)
    assert back.shape == wav.shape
    # the frame dropped at the end is rebuilt as a copy of the one before: the last half window differs, the
    # rest is the input itself
    body = length - N_FFT // 2 - HOP
    assert torch.allclose(back[..., :body], wav[..., :body], atol=1e-4)


def test_griffin_lim_keeps_pitch_without_frame_rate_buzz():
    frames = STFTFrames(N_FFT, HOP)
    decoder = SpectralDecoder(frames, dimension=8, dim=16, intermediate_dim=32, num_layers=1, griffin_lim_iters=32)
    wav = _sines([220.0, 277.18, 329.63])  # A minor-ish triad, none on a multiple of 50 Hz
    mag = frames(wav).abs()
    out = decoder.griffin_lim(mag, wav.shape[-1])
    assert out.shape == wav.shape
    assert torch.equal(out, decoder.griffin_lim(mag, wav.shape[-1]))  # seeded: same magnitudes, same audio
    peaks = strongest_peaks(out[0, 0].numpy(), RATE, count=3)
    assert np.allclose(sorted(peaks), [220.0, 277.18, 329.63], atol=3.0)  # a semitone here is 13-19 Hz
    assert frame_rate_peaks(out[0, 0].numpy(), RATE, RATE / HOP) <= 1
    # what a decoder that gives every frame the same phase makes instead: the frame-rate buzz
    buzz = frames.inverse(torch.polar(mag, torch.zeros_like(mag)), wav.shape[-1])
    assert frame_rate_peaks(buzz[0, 0].numpy(), RATE, RATE / HOP) > 3  # the codec issue's bar is 3 of 12


def test_pitched_head_writes_notes_on_their_partials():
    from beatlm.modules.spectral_codec import PitchedHead, harmonic_templates
    templates = harmonic_templates(N_FFT, RATE, [45, 69])  # A2 110 Hz, A4 440 Hz
    bin_hz = RATE / N_FFT
    assert templates.shape == (2, N_FFT // 2 + 1) and templates.max() == 1
    for row, f0 in zip(templates, (110.0, 440.0)):
        assert abs(int(row.argmax()) * bin_hz - f0) <= bin_hz  # the fundamental is the strongest partial
        assert row[round(2 * f0 / bin_hz)] > 10 * row[round(1.5 * f0 / bin_hz)]  # partials, not a smear
    head = PitchedHead(dim=8, n_fft=N_FFT, sample_rate=RATE)
    log_mag = head(torch.randn(2, 5, 8))
    assert log_mag.shape == (2, N_FFT // 2 + 1, 5) and torch.isfinite(log_mag).all()
