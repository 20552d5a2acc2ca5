"""Musical measurements of audio: librosa tempo and a chroma key estimate, and how they are scored.

One implementation serves both the beat corpus (`beatlm corpus stats` holds rendered clips to their
labels) and generated beats (`beatlm eval` scores tempo and key adherence to the prompt).
"""

import typing as tp

import numpy as np

from ..dataset_builders.synth.theory import PITCH_NAMES, pitch_class

# Krumhansl & Kessler (1982) probe-tone key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
TEMPO_TOLERANCE = 0.04


def estimate_tempo(wav: np.ndarray, sample_rate: int) -> float:
    """Tempo in BPM from librosa's beat tracker (default settings).

    Args:
        wav: Mono samples [T].
        sample_rate: Their rate.
    Returns:
        The estimated tempo (0 when librosa finds no beat).
    """
    import librosa
    tempo, _ = librosa.beat.beat_track(y=np.asarray(wav, dtype=np.float32), sr=sample_rate)
    return float(np.atleast_1d(tempo)[0])


def tempo_matches(estimate: float, label: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` of the label; half or double tempo (octave errors) count as misses."""
    return abs(estimate - label) <= tolerance * label


def octave_error(estimate: float, label: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """The estimate is half or double the label (within `tolerance`): a miss, counted apart in reports."""
    return any(tempo_matches(estimate, label * factor, tolerance) for factor in (0.5, 2.0))


def key_scores(chroma: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin chroma vector with the 24 key profiles: rows major then minor, columns tonic."""
    scores = np.zeros((2, 12))
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat chroma (silence) correlates with nothing: NaN
        for mode, profile in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
            for tonic in range(12):
                scores[mode, tonic] = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
    return scores


def estimate_key(wav: np.ndarray, sample_rate: int) -> str:
    """Key as `F# minor`: Krumhansl-Schmuckler on the mean CQT chroma of the clip.

    Args:
        wav: Mono samples [T].
        sample_rate: Their rate.
    """
    import librosa
    chroma = librosa.feature.chroma_cqt(y=np.asarray(wav, dtype=np.float32), sr=sample_rate, hop_length=2048)
    scores = key_scores(chroma.mean(axis=1))
    mode, tonic = np.unravel_index(int(np.argmax(np.nan_to_num(scores, nan=-1.0))), scores.shape)
    return f"{PITCH_NAMES[tonic]} {'major' if mode == 0 else 'minor'}"


def split_key(key: str) -> tp.Tuple[int, str]:
    """(tonic pitch class, 'major' | 'minor') of a label such as `F# minor`, `eb Major` or `Bb minor`.

    Raises:
        ValueError: the label is not a tonic and a mode.
    """
    parts = key.strip().split()
    if len(parts) != 2 or parts[1].lower() not in ("major", "minor"):
        raise ValueError(f"not a key label: {key!r} (expected e.g. 'F# minor')")
    tonic = parts[0][:1].upper() + parts[0][1:].replace("♯", "#").replace("♭", "b")
    return pitch_class(tonic), parts[1].lower()


def same_key(a: str, b: str) -> bool:
    """Key labels equal (case-insensitive, enharmonic spellings of the tonic allowed)."""
    return split_key(a) == split_key(b)
