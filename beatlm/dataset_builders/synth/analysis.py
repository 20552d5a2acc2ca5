"""File checks on rendered audio: rate, duration, silence, clipping, peak and loudness.

The tempo and key estimators the corpus is also held to live in `beatlm.metrics.music` (they score
generated beats too).
"""

import typing as tp

import numpy as np


def check_audio(wav: np.ndarray, sample_rate: int, expected_rate: int, expected_duration: float
                ) -> tp.Dict[str, tp.Any]:
    """Per-file checks: rate, duration, silence, clipping, peak and loudness.

    Args:
        wav: Samples in [-1, 1] (as read from the 16-bit file).
        sample_rate: The file's rate.
        expected_rate: The corpus rate.
        expected_duration: The corpus clip length (s).
    Returns:
        Measurements and a list of `problems` (empty when the file is fine).
    """
    from .mixing import loudness
    peak = float(np.abs(wav).max()) if len(wav) else 0.0
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if len(wav) else 0.0
    lufs = loudness(wav, sample_rate) if len(wav) else float("-inf")
    duration = len(wav) / sample_rate
    problems = []
    if sample_rate != expected_rate:
        problems.append(f"sample rate {sample_rate} != {expected_rate}")
    if abs(duration - expected_duration) > 1.0 / sample_rate + 1e-6:
        problems.append(f"duration {duration:.4f}s != {expected_duration}s")
    if rms < 10 ** (-50 / 20):
        problems.append("silent (RMS below -50 dBFS)")
    if peak >= 32767 / 32768:
        problems.append("clipped (peak at full scale)")
    if not -30.0 <= lufs <= -6.0:
        problems.append(f"loudness {lufs:.1f} LUFS outside [-30, -6]")
    return {"peak_dbfs": 20 * np.log10(max(peak, 1e-9)), "rms_dbfs": 20 * np.log10(max(rms, 1e-9)),
            "lufs": lufs, "duration": duration, "sample_rate": sample_rate, "problems": problems}
