"""Beat-aligned clips of a fixed length, with estimated tempo and key in each clip's sidecar.

librosa's beat tracker finds the beats of a whole track (mono, 22.05 kHz analysis copy); clips of
`duration` seconds start on beats, one after the other without overlap (each starts on the first beat
at or after the previous clip's end). Each clip's tempo and key are estimated by
`beatlm.metrics.music` (the estimators `beatlm corpus stats` uses); its residual-vocals ratio comes from
the separation step's per-second timeline when there is one.

The clips of a track are written into a hidden staging folder that is renamed into place once all of
them are written: a track is segmented entirely or not at all.
"""

import os
from pathlib import Path
import shutil
import typing as tp

import numpy as np

from ..utils.errors import BeatLMError
from .separation import timeline_ratio
from .step_utils import (
    PARTIAL_SUFFIX,
    DecodeError,
    StepSummary,
    progress_bar,
    read_sidecar,
    readable_audio,
    remove_stale_temporaries,
    scan_media,
    stop_on_disk_full,
    write_json_atomic,
)

ANALYSIS_RATE = 22050
INDEX_FILE = "clips.json"
SILENCE_DBFS = -60.0


def beat_times(mono: np.ndarray, sample_rate: int) -> tp.Tuple[float, np.ndarray]:
    """(tempo in BPM, beat times in seconds) of a whole track from librosa's beat tracker."""
    import librosa
    tempo, beats = librosa.beat.beat_track(y=np.asarray(mono, dtype=np.float32), sr=sample_rate, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def plan_clips(beats: tp.Sequence[float], duration: float, total: float, max_clips: tp.Optional[int] = None,
               tolerance: float = 0.05) -> tp.List[float]:
    """Start times of clips of `duration` seconds, each starting on a beat and ending in the track.

    Each clip starts on the first beat at or after the previous clip's end, give or take `tolerance` seconds
    (beat times jitter by a frame: a beat 20 ms early still starts the next clip, overlapping by 20 ms).
    """
    starts: tp.List[float] = []
    free_from = -np.inf
    for beat in beats:
        if max_clips is not None and len(starts) >= max_clips:
            break
        if beat >= free_from - tolerance and beat + duration <= total + 1e-6:
            starts.append(float(beat))
            free_from = beat + duration
    return starts


def rms_dbfs(wav: np.ndarray) -> float:
    """Root-mean-square level in dBFS (-inf for silence)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else -np.inf


def track_folder(src: Path, root: Path, out: Path) -> Path:
    """Folder of the clips of `src` (a file under `root`): its relative path without suffix, under `out`."""
    return (out / src.relative_to(root)).with_suffix("")


def is_segmented(folder: Path) -> bool:
    """A track is done when its clip folder holds the index (the folder appears whole, by rename)."""
    return (folder / INDEX_FILE).is_file()


def clip_sidecar(track_info: tp.Dict[str, tp.Any], name: str, start: float, duration: float, bpm: float,
                 key: str, track_bpm: float, source_file: str, index: int, sample_rate: int, channels: int
                 ) -> tp.Dict[str, tp.Any]:
    """MusicInfo sidecar of one clip: the track's fields, the clip's tempo and key, where it was cut from."""
    info = {k: v for k, v in track_info.items() if k != "beatlm"}
    info.update(duration=duration, sample_rate=sample_rate, channels=channels)
    extra = {k: v for k, v in (track_info.get("beatlm") or {}).items() if k != "vocals"}
    vocals = (track_info.get("beatlm") or {}).get("vocals")
    if vocals:
        ratio = timeline_ratio(vocals.get("timeline") or [], start, start + duration)
        threshold = float(vocals.get("threshold", 1.0))
        extra["vocals"] = {"speech_ratio": round(ratio, 4), "threshold": threshold, "flagged": ratio > threshold,
                           "track_speech_ratio": vocals.get("speech_ratio")}
    extra["segment"] = {"source_file": source_file, "index": index, "start": round(start, 4),
                        "end": round(start + duration, 4), "track_bpm": round(track_bpm, 2)}
    info.update(name=name, bpm=round(bpm, 2), key=key, beatlm=extra)
    return info


def segment_track(src: Path, folder: Path, duration: float, track_info: tp.Dict[str, tp.Any], source_file: str,
                  sample_rate: tp.Optional[int] = None, channels: tp.Optional[int] = None,
                  max_clips: tp.Optional[int] = None, scratch: tp.Optional[Path] = None) -> tp.Dict[str, tp.Any]:
    """Cut `src` into beat-aligned clips inside `folder` (created whole by renaming a staging folder).

    Returns:
        The track's index: clips written, silent clips skipped, track tempo.
    Raises:
        DecodeError: `src` cannot be decoded.
    """
    import librosa
    import soundfile as sf

    from ..metrics.music import estimate_key, estimate_tempo
    staging = folder.with_name(f".{folder.name}{PARTIAL_SUFFIX}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with readable_audio(src, scratch or folder.parent) as readable:
        info = sf.info(str(readable))
        try:
            mono, _ = librosa.load(str(readable), sr=ANALYSIS_RATE, mono=True)
        except Exception as exc:
            raise DecodeError(f"cannot read ({exc})") from None
        total = len(mono) / ANALYSIS_RATE
        track_bpm, beats = beat_times(mono, ANALYSIS_RATE) if total >= duration else (0.0, np.zeros(0))
        starts = plan_clips(beats, duration, total, max_clips)
        out_rate = sample_rate or info.samplerate
        clips, silent = [], 0
        with sf.SoundFile(str(readable)) as audio:
            for start in starts:
                audio.seek(int(round(start * info.samplerate)))
                length = int(round(duration * info.samplerate))
                wav = audio.read(length, dtype="float32", always_2d=True).T
                if wav.shape[1] < length:  # rounding at the very end of the track
                    wav = np.pad(wav, ((0, 0), (0, length - wav.shape[1])))
                analysis = mono[int(round(start * ANALYSIS_RATE)):int(round((start + duration) * ANALYSIS_RATE))]
                if rms_dbfs(analysis) < SILENCE_DBFS:
                    silent += 1
                    continue
                if out_rate != info.samplerate:
                    wav = librosa.resample(wav, orig_sr=info.samplerate, target_sr=out_rate)
                if channels is not None and wav.shape[0] != channels:
                    wav = np.repeat(wav.mean(axis=0, keepdims=True), channels, axis=0)
                peak = float(np.abs(wav).max()) if wav.size else 0.0
                if peak > 1.0:  # keep PCM from clipping
                    wav = wav / peak
                name = f"{folder.name}_{len(clips):04d}"
                sf.write(str(staging / f"{name}.wav"), wav.T, out_rate, subtype="PCM_16", format="WAV")
                sidecar = clip_sidecar(track_info, name, start, duration, estimate_tempo(analysis, ANALYSIS_RATE),
                                       estimate_key(analysis, ANALYSIS_RATE), track_bpm, source_file, len(clips),
                                       out_rate, wav.shape[0])
                write_json_atomic(staging / f"{name}.json", sidecar)
                clips.append({"name": name, "start": round(start, 4)})
    index = {"source_file": source_file, "track_seconds": round(total, 3), "track_bpm": round(track_bpm, 2),
             "duration": duration, "sample_rate": out_rate, "clips": clips, "silent_skipped": silent}
    write_json_atomic(staging / INDEX_FILE, index)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)
    return index


def run_segmentation(root: tp.Union[str, Path], out: tp.Union[str, Path], duration: float = 10.0,
                     sample_rate: tp.Optional[int] = None, channels: tp.Optional[int] = None,
                     max_clips: tp.Optional[int] = None, force: bool = False, progress: bool = True) -> StepSummary:
    """Segment every track under `root` into `out/<relative path without suffix>/<name>_NNNN.wav` + sidecars.

    Args:
        root: Folder of tracks (the output of `separate`, or any audio).
        out: Folder of clips.
        duration: Seconds per clip.
        sample_rate: Rate of the clips (default: the track's).
        channels: Channels of the clips (default: the track's).
        max_clips: At most this many clips per track.
        force: Segment again tracks already done.
        progress: Show a progress bar.
    """
    root, out = Path(root), Path(out)
    if duration <= 0:
        raise BeatLMError("--duration must be positive")
    if channels is not None and channels not in (1, 2):
        raise BeatLMError("--channels must be 1 or 2")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise BeatLMError("--out must be another folder than the input, and not inside it")
    media, unsupported = scan_media(root)
    summary = StepSummary("segment", unsupported=[str(p) for p in unsupported])
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    totals = {"clips": 0, "too_short": 0, "silent_clips": 0}
    with stop_on_disk_full("segment"):
        for src in progress_bar(media, "segment", progress):
            folder = track_folder(src, root, out)
            if is_segmented(folder) and not force:
                summary.skipped += 1
                continue
            try:
                index = segment_track(src, folder, duration, read_sidecar(src), str(src.relative_to(root)),
                                      sample_rate, channels, max_clips, scratch=out)
            except DecodeError as exc:
                shutil.rmtree(folder.with_name(f".{folder.name}{PARTIAL_SUFFIX}"), ignore_errors=True)
                summary.fail(src, str(exc))
                continue
            summary.done += 1
            totals["clips"] += len(index["clips"])
            totals["silent_clips"] += index["silent_skipped"]
            totals["too_short"] += int(index["track_seconds"] < duration)
    summary.extra.update(totals)
    return summary
