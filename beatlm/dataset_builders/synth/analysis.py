"""Measurements on rendered audio: librosa tempo, a chroma key estimate, and file checks.

These are the checks the corpus is held to (tempo within 4 % of the label, key and mode right) and
the same estimators later score generated beats for tempo and key adherence.
"""

import typing as tp

import numpy as np

from .theory import PITCH_NAMES

# Krumhansl & Kessler (1982) probe-tone key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
TEMPO_TOLERANCE = 0.04


def estimate_tempo(wav: np.ndarray, sample_rate: int) -> float:
    """Tempo in BPM from librosa's beat tracker (default settings)."""
    import librosa
    tempo, _ = librosa.beat.beat_track(y=wav.astype(np.float32), sr=sample_rate)
    return float(np.atleast_1d(tempo)[0])


def tempo_matches(estimate: float, label: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` of the label; half or double tempo (octave errors) count as misses."""
    return abs(estimate - label) <= tolerance * label


def key_scores(chroma: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin chroma vector with the 24 key profiles: rows major then minor, columns tonic."""
    scores = np.zeros((2, 12))
    for mode, profile in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            scores[mode, tonic] = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
    return scores


def estimate_key(wav: np.ndarray, sample_rate: int) -> str:
    """Key as `F# minor`: Krumhansl-Schmuckler on the mean CQT chroma of the clip."""
    import librosa
    chroma = librosa.feature.chroma_cqt(y=wav.astype(np.float32), sr=sample_rate, hop_length=2048)
    profile = chroma.mean(axis=1)
    scores = key_scores(profile)
    mode, tonic = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return f"{PITCH_NAMES[tonic]} {'major' if mode == 0 else 'minor'}"


def same_key(a: str, b: str) -> bool:
    """Key labels equal (case-insensitive, enharmonic spellings of the tonic allowed)."""
    from .theory import pitch_class
    ta, ma = a.strip().split()
    tb, mb = b.strip().split()
    return ma.lower() == mb.lower() and pitch_class(ta[:1].upper() + ta[1:]) == pitch_class(tb[:1].upper() + tb[1:])


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
