"""Mix stage: bus levels, sidechain ducking, reverb, saturation, filters, loudness and a peak limiter."""

import typing as tp

import numpy as np
from scipy import ndimage, signal

PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS


def db(value: float) -> float:
    """Decibels to a linear gain."""
    return float(10 ** (value / 20.0))


def lowpass(x: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass (the dusty / muffled sound of lo-fi and boom bap)."""
    cutoff = min(cutoff_hz, 0.45 * sample_rate)
    sos = signal.butter(order, cutoff, btype="low", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def highpass(x: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth high-pass (removes DC and sub-rumble)."""
    sos = signal.butter(order, cutoff_hz, btype="high", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def saturate(x: np.ndarray, amount: float) -> np.ndarray:
    """tanh saturation; `amount` 0 (clean) to 1 (heavy), loudness roughly kept."""
    if amount <= 0:
        return x
    drive = 1.0 + 6.0 * amount
    peak = float(np.abs(x).max()) or 1.0
    return (np.tanh(drive * x / peak) / np.tanh(drive) * peak).astype(np.float32)


def sidechain(length: int, sample_rate: int, kick_times: tp.Sequence[float], depth: float,
              release: float = 0.15) -> np.ndarray:
    """Gain curve that dips by `depth` (0-1) at every kick and recovers exponentially over `release` seconds."""
    gain = np.ones(length, np.float32)
    if depth <= 0 or not kick_times:
        return gain
    n = int(4 * release * sample_rate)
    dip = 1.0 - depth * np.exp(-np.arange(n) / (release * sample_rate)).astype(np.float32)
    for t in kick_times:
        start = int(round(t * sample_rate))
        if start >= length:
            continue
        m = min(n, length - start)
        gain[start:start + m] = np.minimum(gain[start:start + m], dip[:m])
    return gain


def reverb(x: np.ndarray, sample_rate: int, amount: float, rng: np.random.Generator, seconds: float = 1.6
           ) -> np.ndarray:
    """Convolution with a decaying-noise impulse response; `amount` is the wet share (0-1)."""
    if amount <= 0:
        return x
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n).astype(np.float32) * np.exp(-t * 6.9 / seconds).astype(np.float32)
    ir = lowpass(ir, sample_rate, 6000.0)
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-9
    wet = signal.oaconvolve(x, ir)[: len(x)].astype(np.float32)
    return ((1.0 - amount) * x + amount * wet).astype(np.float32)


def limit(x: np.ndarray, sample_rate: int, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Peak limiter: smoothed gain reduction wherever |x| would pass `ceiling`, then a hard guard."""
    need = np.minimum(1.0, ceiling / (np.abs(x) + 1e-9))
    if need.min() < 1.0:
        hold = int(0.005 * sample_rate)
        need = ndimage.minimum_filter1d(need, size=2 * hold + 1)
        need = ndimage.uniform_filter1d(need, size=hold)
        need = np.minimum(need, ceiling / (np.abs(x) + 1e-9))
        x = x * need
    return np.clip(x, -ceiling, ceiling).astype(np.float32)


def loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770-4) with pyloudnorm; -inf for silence."""
    import pyloudnorm
    meter = pyloudnorm.Meter(sample_rate)
    if len(x) < int(0.4 * sample_rate):
        x = np.pad(x, (0, int(0.4 * sample_rate) - len(x)))
    return float(meter.integrated_loudness(x.astype(np.float64)))


def master(x: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """High-pass, normalise to `target_lufs`, then limit peaks to -1 dBFS."""
    x = highpass(x, sample_rate, 28.0)
    current = loudness(x, sample_rate)
    if np.isfinite(current):
        x = x * db(target_lufs - current)
    return limit(x, sample_rate)
