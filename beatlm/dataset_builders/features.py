"""The plan's per-clip features: log-mel spectrogram, MFCCs and chroma, saved as `.npz` beside each clip.

All three come from one STFT of the mono clip resampled to `sample_rate` (librosa's defaults: 22.05 kHz,
2048-point FFT, hop 512, so about 43 frames per second):

- `mel` [n_mels, frames]: mel power spectrogram in dB (`librosa.power_to_db`, ref 1.0);
- `mfcc` [n_mfcc, frames]: MFCCs of that log-mel spectrogram;
- `chroma` [12, frames]: chroma of the STFT power (`librosa.feature.chroma_stft`), normalised per frame;

plus the scalars `sample_rate`, `hop_length`, `n_fft` so a reader can place frames in time
(`librosa.frames_to_time`). Arrays are float32, compressed.
"""

from pathlib import Path
import typing as tp
import warnings

import numpy as np

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path
from .step_utils import StepSummary, progress_bar, remove_stale_temporaries, scan_media, stop_on_disk_full

FEATURE_EXTS = frozenset({".wav", ".flac", ".ogg"})


def compute_features(wav: np.ndarray, sample_rate: int, n_mels: int = 128, n_mfcc: int = 20, n_fft: int = 2048,
                     hop_length: int = 512) -> tp.Dict[str, np.ndarray]:
    """Features of a mono signal [T] at `sample_rate` (see the module docstring)."""
    import librosa
    wav = np.asarray(wav, dtype=np.float32)
    power = np.abs(librosa.stft(wav, n_fft=n_fft, hop_length=hop_length)) ** 2
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=n_mels), ref=1.0)
    mfcc = librosa.feature.mfcc(S=mel, n_mfcc=n_mfcc)
    with warnings.catch_warnings():  # a silent clip has no pitch to estimate the tuning from: fine
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
        chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=n_fft, hop_length=hop_length)
    return {"mel": mel.astype(np.float32), "mfcc": mfcc.astype(np.float32), "chroma": chroma.astype(np.float32),
            "sample_rate": np.int64(sample_rate), "hop_length": np.int64(hop_length), "n_fft": np.int64(n_fft)}


def features_path(audio: Path) -> Path:
    """Where the features of a clip go: same name, `.npz`."""
    return audio.with_suffix(".npz")


def load_features(path: tp.Union[str, Path]) -> tp.Dict[str, np.ndarray]:
    """The arrays of a features file (no pickles allowed)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_features(audio: Path, sample_rate: int = 22050, **kwargs: tp.Any) -> Path:
    """Compute and atomically write the features of one clip; returns the `.npz` path.

    Raises:
        ValueError: the clip cannot be read or is empty.
    """
    import librosa
    import soundfile as sf
    try:
        wav, rate = sf.read(str(audio), dtype="float32", always_2d=True)
    except Exception as exc:
        raise ValueError(f"cannot read ({type(exc).__name__}: {str(exc)[:150]})") from None
    if wav.size == 0:
        raise ValueError("no audio samples")
    wav = librosa.resample(wav.mean(axis=1), orig_sr=rate, target_sr=sample_rate)
    arrays = compute_features(wav, sample_rate, **kwargs)
    target = features_path(audio)
    with atomic_path(target, overwrite=True) as tmp:
        with open(tmp, "wb") as file:  # a file object: np.savez would append .npz to a path
            np.savez_compressed(file, **arrays)
    return target


def run_features(root: tp.Union[str, Path], sample_rate: int = 22050, n_mels: int = 128, n_mfcc: int = 20,
                 n_fft: int = 2048, hop_length: int = 512, force: bool = False, progress: bool = True) -> StepSummary:
    """Write `<clip>.npz` beside every clip (WAV, FLAC, OGG) under `root` that has none yet.

    Args:
        root: Folder of clips (the output of `segment`).
        sample_rate: Rate the clips are analysed at.
        n_mels: Mel bands.
        n_mfcc: MFCC coefficients.
        n_fft: FFT size.
        hop_length: Samples between frames.
        force: Recompute existing features.
        progress: Show a progress bar.
    """
    root = Path(root)
    if min(sample_rate, n_mels, n_mfcc, n_fft, hop_length) <= 0:
        raise BeatLMError("--sample-rate, --n-mels, --n-mfcc, --n-fft and --hop-length must be positive")
    if n_mfcc > n_mels:
        raise BeatLMError("--n-mfcc cannot exceed --n-mels")
    clips, unsupported = scan_media(root, FEATURE_EXTS)
    summary = StepSummary("features", unsupported=[str(p) for p in unsupported])
    remove_stale_temporaries(root)
    with stop_on_disk_full("features"):
        for clip in progress_bar(clips, "features", progress, unit="clip"):
            if features_path(clip).is_file() and not force:
                summary.skipped += 1
                continue
            try:
                write_features(clip, sample_rate, n_mels=n_mels, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
            except ValueError as exc:
                summary.fail(clip, str(exc))
                continue
            summary.done += 1
    return summary
