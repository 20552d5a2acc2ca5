"""Original-vs-reconstruction measures: chroma and onset correlation, log-mel L1, the frame-rate buzz check."""

import numpy as np
import pytest

from beatlm.metrics import reconstruction as rec

RATE = 32000


def _tone(freq, seconds=3.0, pulses_per_second=0.0):
    t = np.arange(int(seconds * RATE)) / RATE
    wav = 0.3 * np.sin(2 * np.pi * freq * t)
    if pulses_per_second:  # amplitude pulses: a rhythm
        wav *= np.exp(-((t * pulses_per_second) % 1.0) * 8)
    return wav.astype(np.float32)


def test_same_signal_scores_perfectly():
    wav = _tone(440.0, pulses_per_second=2.0)
    assert rec.chroma_correlation(wav, wav, RATE) == pytest.approx(1.0)
    assert rec.onset_correlation(wav, wav, RATE) == pytest.approx(1.0)
    assert rec.log_mel_l1_db(wav, wav, RATE) == pytest.approx(0.0)
    assert rec.si_snr_db(wav, wav, RATE) > 40  # not infinite: audiocraft's SISNR adds an epsilon


def test_another_pitch_or_rhythm_scores_lower():
    wav = _tone(440.0, pulses_per_second=2.0)
    assert rec.chroma_correlation(_tone(440.0), _tone(311.13), RATE) < 0.3  # a tritone away
    assert rec.onset_correlation(wav, _tone(440.0, pulses_per_second=3.0), RATE) < 0.5
    noise = np.random.default_rng(0).normal(0, 0.3, 3 * RATE).astype(np.float32)
    assert rec.log_mel_l1_db(noise, 0.1 * noise, RATE) == pytest.approx(20.0, abs=0.5)  # -20 dB in every band
    assert rec.chroma_correlation(wav, np.zeros_like(wav), RATE) == 0.0  # silence correlates with nothing


def test_frame_rate_peaks_finds_a_buzz():
    t = np.arange(3 * RATE) / RATE
    buzz = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 20))  # a 50 Hz harmonic series
    music = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 164.81, 220.0, 277.18, 329.63))
    assert rec.frame_rate_peaks(buzz, RATE, 50.0) == 12
    assert rec.frame_rate_peaks(music, RATE, 50.0) == 0
    assert sorted(np.round(rec.strongest_peaks(music, RATE, count=5))) == [110, 165, 220, 277, 330]
