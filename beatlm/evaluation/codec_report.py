"""`beatlm eval codec`: what a codec keeps of a folder of audio, beside the originals and Opus.

Every file is read at the codec's rate (mono), encoded and decoded; optionally also through Opus at a
bitrate (ffmpeg's libopus), the classic anchor a neural codec must beat. Each version is measured against
the original (metrics/reconstruction.py) and, where the file has a MusicInfo sidecar with `bpm` / `key`,
against its labels with the estimators `beatlm corpus stats` and `beatlm eval` use (metrics/music.py).
"""

import dataclasses
import json
from pathlib import Path
import shutil
import subprocess
import tempfile
import time
import typing as tp
import warnings

import numpy as np

from ..metrics import music, reconstruction
from ..metrics.codec import read_audio, reconstruct
from ..utils.errors import BeatLMError
from ..utils.files import atomic_path

if tp.TYPE_CHECKING:
    from audiocraft.models.encodec import CompressionModel

SPECTROGRAM_FILES = 3


@dataclasses.dataclass
class Measures:
    """One version of one file, measured against the original (and its labels)."""
    tempo: float
    key: tp.Optional[str]
    tempo_hit: tp.Optional[bool]
    key_hit: tp.Optional[bool]
    chroma_corr: float
    onset_corr: float
    log_mel_l1_db: float
    frame_rate_peaks: int
    si_snr_db: float


def check_opus() -> str:
    """The ffmpeg binary, if it has libopus; BeatLMError otherwise."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise BeatLMError("--opus needs ffmpeg on the PATH (Debian: apt-get install ffmpeg), or leave --opus out")
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libopus" not in encoders:
        raise BeatLMError(f"{ffmpeg} has no libopus encoder: install an ffmpeg built with it, or leave --opus out")
    return ffmpeg


def opus_round_trip(ffmpeg: str, wav: np.ndarray, sample_rate: int, kbps: float) -> np.ndarray:
    """Mono samples through libopus at `kbps` and back to `sample_rate` (same length as the input)."""
    import soundfile as sf
    with tempfile.TemporaryDirectory(prefix="beatlm-opus-") as tmp:
        src, enc, dec = (Path(tmp) / name for name in ("in.wav", "coded.opus", "out.wav"))
        sf.write(src, wav, sample_rate, subtype="FLOAT")
        quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
        subprocess.run(quiet + ["-i", str(src), "-c:a", "libopus", "-b:a", f"{kbps}k", "-ac", "1", str(enc)],
                       check=True, capture_output=True)
        subprocess.run(quiet + ["-i", str(enc), "-ar", str(sample_rate), "-ac", "1", str(dec)],
                       check=True, capture_output=True)
        out, _ = sf.read(dec, dtype="float32")
    out = out[:len(wav)]
    return np.pad(out, (0, len(wav) - len(out)))


@dataclasses.dataclass
class Reference:
    """The original's features, computed once per file for every version measured against it."""
    wav: np.ndarray
    chroma: np.ndarray
    onsets: np.ndarray

    @classmethod
    def of(cls, wav: np.ndarray, sample_rate: int) -> "Reference":
        return cls(wav, reconstruction.chromagram(wav, sample_rate), reconstruction.onset_envelope(wav, sample_rate))


def measure(reference: Reference, version: np.ndarray, sample_rate: int, frame_rate: float,
            labels: tp.Mapping[str, tp.Any]) -> Measures:
    """Every measure of `version` against the original and the file's labels (`bpm`, `key`; either may be absent)."""
    tempo = music.estimate_tempo(version, sample_rate)
    bpm, key_label = labels.get("bpm"), labels.get("key")
    key = music.estimate_key(version, sample_rate) if key_label else None
    return Measures(
        tempo=tempo, key=key,
        tempo_hit=music.tempo_matches(tempo, float(bpm)) if bpm else None,
        key_hit=music.same_key(key, key_label) if key_label and key else None,
        chroma_corr=reconstruction.correlation(reference.chroma, reconstruction.chromagram(version, sample_rate)),
        onset_corr=reconstruction.correlation(reference.onsets, reconstruction.onset_envelope(version, sample_rate)),
        log_mel_l1_db=reconstruction.log_mel_l1_db(reference.wav, version, sample_rate),
        frame_rate_peaks=reconstruction.frame_rate_peaks(version, sample_rate, frame_rate),
        si_snr_db=reconstruction.si_snr_db(reference.wav, version, sample_rate))


def _labels(path: Path) -> tp.Dict[str, tp.Any]:
    from ..data.clips import sidecar
    info = sidecar(path)
    out: tp.Dict[str, tp.Any] = {}
    if isinstance(info.get("bpm"), (int, float)) and info["bpm"] > 0:
        out["bpm"] = float(info["bpm"])
    if isinstance(info.get("key"), str):
        try:
            music.split_key(info["key"])
            out["key"] = info["key"]
        except ValueError:
            pass
    return out


def summarise(rows: tp.Sequence[Measures]) -> tp.Dict[str, tp.Any]:
    """Means and hit rates of one version over the files."""
    def share(values: tp.List[tp.Optional[bool]]) -> tp.Optional[float]:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None
    return {
        "files": len(rows),
        "tempo_accuracy": share([r.tempo_hit for r in rows]),
        "tempo_labelled": sum(r.tempo_hit is not None for r in rows),
        "key_accuracy": share([r.key_hit for r in rows]),
        "key_labelled": sum(r.key_hit is not None for r in rows),
        "chroma_corr": float(np.mean([r.chroma_corr for r in rows])),
        "onset_corr": float(np.mean([r.onset_corr for r in rows])),
        "log_mel_l1_db": float(np.mean([r.log_mel_l1_db for r in rows])),
        "frame_rate_peaks": float(np.mean([r.frame_rate_peaks for r in rows])),
        "files_with_buzz": sum(r.frame_rate_peaks > 3 for r in rows),
        "si_snr_db": float(np.mean([r.si_snr_db for r in rows])),
    }


def evaluate_codec(codec: "CompressionModel", files: tp.Sequence[Path], out_dir: tp.Union[str, Path],
                   opus_kbps: tp.Optional[float] = None, codec_name: str = "codec", overwrite: bool = False,
                   progress: bool = True) -> tp.Dict[str, tp.Any]:
    """Measure `codec` (and Opus at `opus_kbps`) on `files`; write report.md, report.json, spectrograms.png.

    Args:
        codec: An audiocraft CompressionModel in eval mode.
        files: Audio files (any rate; read mono at the codec's rate). Unreadable ones are listed and skipped.
        out_dir: Report folder (new or empty, unless `overwrite`); written only once everything is measured.
        opus_kbps: Also measure Opus at this bitrate (needs ffmpeg with libopus).
        codec_name: How the report names the codec.
        overwrite: Write into a non-empty `out_dir`.
        progress: Show a progress bar.
    Returns:
        The report as written to report.json.
    Raises:
        BeatLMError: `out_dir` not empty, ffmpeg missing with `opus_kbps`, or no file readable.
    """
    from tqdm import tqdm
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BeatLMError(f"report folder {out_dir} is a file")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise BeatLMError(f"report folder {out_dir} is not empty (pass --overwrite to write into it)")
    ffmpeg = check_opus() if opus_kbps is not None else None
    rate, frame_rate = int(codec.sample_rate), float(codec.frame_rate)
    versions = ["original", codec_name] + ([f"opus {opus_kbps:g} kbps"] if ffmpeg else [])
    measures: tp.Dict[str, tp.List[Measures]] = {name: [] for name in versions}
    per_file: tp.List[tp.Dict[str, tp.Any]] = []
    skipped: tp.List[tp.Dict[str, str]] = []
    examples: tp.List[tp.Tuple[str, np.ndarray]] = []
    seconds = {"codec": 0.0, "audio": 0.0}
    for path in tqdm(files, desc="codec round trips", unit="file", disable=not progress):
        try:
            wav = read_audio(path, rate, channels=1)
        except BeatLMError as exc:
            skipped.append({"file": str(path), "reason": str(exc)})
            continue
        start = time.perf_counter()
        decoded = reconstruct(codec, wav[None].to(next(codec.parameters()).device))[0].float().cpu()
        seconds["codec"] += time.perf_counter() - start
        seconds["audio"] += wav.shape[-1] / rate
        original = wav[0].numpy()
        coded = {"original": original, codec_name: decoded[0].numpy()}
        if ffmpeg:
            coded[versions[2]] = opus_round_trip(ffmpeg, original, rate, tp.cast(float, opus_kbps))
        labels = _labels(path)
        row: tp.Dict[str, tp.Any] = {"file": str(path), "labels": labels}
        with warnings.catch_warnings():  # one-shots shorter than librosa's FFT: measured anyway, zero-padded
            warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large")
            reference = Reference.of(original, rate)
            for name, version in coded.items():
                m = measure(reference, version, rate, frame_rate, labels)
                measures[name].append(m)
                row[name] = dataclasses.asdict(m)
        per_file.append(row)
        if len(examples) < SPECTROGRAM_FILES * len(versions):
            examples += [(f"{path.name}: {name}", version) for name, version in coded.items()]
    if not per_file:
        listed = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:3])
        raise BeatLMError(f"no audio file could be read ({listed})")
    report = {
        "codec": codec_name, "sample_rate": rate, "frame_rate": frame_rate, "num_codebooks": codec.num_codebooks,
        "cardinality": codec.cardinality, "tokens_per_second": frame_rate * codec.num_codebooks,
        "kbps": frame_rate * codec.num_codebooks * float(np.log2(codec.cardinality)) / 1000,
        "seconds_per_audio_second": seconds["codec"] / max(seconds["audio"], 1e-9),
        "versions": {name: summarise(rows) for name, rows in measures.items()},
        "skipped": skipped, "per_file": per_file,
    }
    _write(report, examples, rate, out_dir, overwrite)
    return report


def _write(report: tp.Dict[str, tp.Any], examples: tp.Sequence[tp.Tuple[str, np.ndarray]], rate: int,
           out_dir: Path, overwrite: bool) -> None:
    from .plots import plot_spectrograms
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_spectrograms(examples, rate, out_dir / "spectrograms.png", overwrite=True)
    with atomic_path(out_dir / "report.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_path(out_dir / "report.md", overwrite=True) as tmp:
        tmp.write_text(markdown(report))


def _fmt(value: tp.Optional[float], percent: bool = False) -> str:
    if value is None:
        return ""
    return f"{100 * value:.0f} %" if percent else f"{value:.2f}"


def markdown(report: tp.Mapping[str, tp.Any]) -> str:
    """The report's table, one row per version (original, codec, Opus)."""
    lines = [f"# Codec report: {report['codec']}", "",
             f"{report['num_codebooks']} codebooks x {report['cardinality']} at {report['frame_rate']:g} Hz: "
             f"{report['tokens_per_second']:g} tokens per second of audio for the stage LMs, "
             f"{report['kbps']:.2f} kbps; encode + decode {report['seconds_per_audio_second']:.3f} s per second of "
             f"audio here.", "",
             "| version | files | tempo within 4 % | key = label | chroma corr. | onset-envelope corr. | "
             "log-mel L1 (dB) | frame-rate peaks (of 12) | files with > 3 | SI-SNR (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in report["versions"].items():
        lines.append(f"| {name} | {s['files']} | {_fmt(s['tempo_accuracy'], True)} | {_fmt(s['key_accuracy'], True)} "
                     f"| {_fmt(s['chroma_corr'])} | {_fmt(s['onset_corr'])} | {_fmt(s['log_mel_l1_db'])} "
                     f"| {s['frame_rate_peaks']:.1f} | {s['files_with_buzz']} | {_fmt(s['si_snr_db'])} |")
    lines += ["", "- tempo: librosa's beat tracker (default prior) within 4 % of the sidecar's bpm; octave errors "
              "are misses. Key: mean CQT chroma against the Krumhansl-Kessler profiles, against the sidecar's key.",
              "- chroma / onset-envelope correlation: Pearson correlation with the original's CQT chromagram / "
              "onset-strength envelope (1 = kept).",
              "- frame-rate peaks: of the 12 strongest spectral peaks between 30 Hz and 2 kHz, how many lie on a "
              f"multiple of the codec's frame rate ({report['frame_rate']:g} Hz): a buzz at the frame rate.", "",
              "![originals and reconstructions](spectrograms.png)", ""]
    if report["skipped"]:
        lines += ["Skipped (unreadable):", ""] + [f"- {s['file']}: {s['reason']}" for s in report["skipped"]] + [""]
    return "\n".join(lines)
