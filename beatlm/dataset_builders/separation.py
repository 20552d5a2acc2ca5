"""Vocal removal: Demucs two-stem separation that keeps the accompaniment, streamed in bounded memory.

A file is read in blocks of `block_seconds` that overlap by `crossfade_seconds`; each block is resampled
to the model's rate and channels, separated by `demucs.apply.apply_model` (itself chunked into the
model's segment with overlap), and the vocal estimate is brought back to the file's rate and
subtracted from the block: the accompaniment keeps the file's own sample rate, channels and full band
whatever rate the model runs at. Consecutive blocks are cross-faded and written as they come, so
memory depends on the block length, never on the file's.

The residual vocals are measured on the written accompaniment with silero-vad (`beatlm.metrics.vocals`):
the share of 32 ms windows judged speech, for the whole file and per second (the `segment` step turns
the per-second timeline into a ratio per clip). Files above `max_speech_ratio` are flagged in the
sidecar; `beatlm data manifest` leaves flagged clips out unless asked.
"""

from dataclasses import dataclass, field
import math
from pathlib import Path
import time
import typing as tp

import numpy as np
import torch

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path
from .step_utils import (
    DecodeError,
    StepSummary,
    progress_bar,
    read_sidecar,
    readable_audio,
    remove_stale_temporaries,
    scan_media,
    sidecar_path,
    stop_on_disk_full,
    write_json_atomic,
)

VAD_RATE = 16000
VAD_WINDOW = 512
DEFAULT_MAX_SPEECH_RATIO = 0.1
SpeechFn = tp.Callable[[torch.Tensor], torch.Tensor]  # mono 16 kHz [T] (T a multiple of 512) -> probability per window


def resample(wav: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """Resample [..., T] with julius (a no-op at equal rates)."""
    if from_rate == to_rate:
        return wav
    import julius
    return julius.resample_frac(wav, int(from_rate), int(to_rate))


def match_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """[C, T] to `channels`: mono is copied to every channel, anything else is averaged to mono first."""
    if wav.shape[0] == channels:
        return wav
    mono = wav.mean(dim=0, keepdim=True)
    return mono.expand(channels, -1).contiguous()


def resolve_device(device: str) -> str:
    """`auto` is `cuda` when a GPU is visible, else `cpu`."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BeatLMError(f"--device {device} asked for, but no GPU is visible: use --device auto or cpu")
    return device


def silero_speech(mono16k: torch.Tensor) -> torch.Tensor:
    """silero-vad speech probability per 32 ms window of mono 16 kHz audio."""
    from ..metrics.vocals import speech_probabilities
    return speech_probabilities(mono16k[None], VAD_RATE)[0]


class SpeechMeter:
    """Accumulates speech decisions over audio fed in pieces: overall ratio and a per-second timeline.

    Args:
        sample_rate: Rate of the audio fed.
        speech_fn: Probability per 512-sample window of mono 16 kHz audio (silero-vad by default).
        threshold: Probability above which a window is speech.
    """

    def __init__(self, sample_rate: int, speech_fn: tp.Optional[SpeechFn] = None, threshold: float = 0.5):
        self.sample_rate = sample_rate
        self.speech_fn = speech_fn or silero_speech
        self.threshold = threshold
        self._pending = torch.zeros(0)
        self._speech: tp.List[torch.Tensor] = []

    def feed(self, wav: torch.Tensor) -> None:
        """Add audio [C, T] at `sample_rate`."""
        mono = resample(wav.float().mean(dim=0), self.sample_rate, VAD_RATE)
        self._pending = torch.cat([self._pending, mono])
        usable = (self._pending.shape[-1] // VAD_WINDOW) * VAD_WINDOW
        if usable:
            probs = self.speech_fn(self._pending[:usable].contiguous())
            self._speech.append((probs > self.threshold).float())
            self._pending = self._pending[usable:]

    def result(self) -> tp.Tuple[float, tp.List[float]]:
        """(speech ratio of everything fed, speech ratio of each second)."""
        if self._pending.shape[-1] >= VAD_WINDOW // 4:  # a last partial window counts once padded
            tail = torch.nn.functional.pad(self._pending, (0, VAD_WINDOW - self._pending.shape[-1]))
            self._speech.append((self.speech_fn(tail) > self.threshold).float())
            self._pending = torch.zeros(0)
        speech = torch.cat(self._speech) if self._speech else torch.zeros(0)
        if not speech.numel():
            return 0.0, []
        seconds = (torch.arange(speech.numel()) * VAD_WINDOW // VAD_RATE).long()
        totals = torch.bincount(seconds).float()
        hits = torch.bincount(seconds, weights=speech)
        timeline = (hits / totals.clamp(min=1)).tolist()
        return float(speech.mean()), [round(v, 3) for v in timeline]


def timeline_ratio(timeline: tp.Sequence[float], start: float, end: float) -> float:
    """Speech ratio of [start, end) seconds from a per-second timeline (seconds weighted by overlap)."""
    total = weight = 0.0
    for second in range(max(0, math.floor(start)), min(len(timeline), math.ceil(end))):
        overlap = min(end, second + 1) - max(start, second)
        if overlap > 0:
            total += overlap * timeline[second]
            weight += overlap
    return total / weight if weight else 0.0


class Separator:
    """Removes one stem (the vocals) from audio with a Demucs model or bag.

    Args:
        model: A Demucs model or BagOfModels (`sources`, `samplerate`, `audio_channels` attributes).
        stem: Source to remove.
        device: Where the model runs (`auto`, `cpu`, `cuda`).
        segment: Seconds per model chunk (default: the model's own; never above an HTDemucs's training length).
        overlap: Overlap of the model chunks, as a fraction.
        block_seconds: Seconds of audio held in memory at once.
        crossfade_seconds: Overlap of consecutive blocks, cross-faded linearly.
        shifts: Random time shifts averaged by Demucs (0: deterministic).
    """

    def __init__(self, model: torch.nn.Module, stem: str = "vocals", device: str = "cpu",
                 segment: tp.Optional[float] = None, overlap: float = 0.25, block_seconds: float = 30.0,
                 crossfade_seconds: float = 1.0, shifts: int = 0):
        if stem not in model.sources:
            raise BeatLMError(f"the model separates {', '.join(model.sources)}: it has no {stem!r} stem to remove")
        if block_seconds < 3 * crossfade_seconds or crossfade_seconds <= 0:
            raise BeatLMError("--block-seconds must be at least 3 times --crossfade-seconds (> 0)")
        if not 0 <= overlap < 1:
            raise BeatLMError("--overlap must be in [0, 1)")
        self.model = model
        self.stem = stem
        self.stem_index = list(model.sources).index(stem)
        self.device = resolve_device(device)
        self.segment = self._check_segment(model, segment)
        self.overlap = overlap
        self.block_seconds = block_seconds
        self.crossfade_seconds = crossfade_seconds
        self.shifts = shifts

    @staticmethod
    def _check_segment(model: torch.nn.Module, segment: tp.Optional[float]) -> tp.Optional[float]:
        if segment is None:
            return None
        limit = getattr(model, "max_allowed_segment", None)
        if limit is None:
            from demucs.htdemucs import HTDemucs
            limit = float(model.segment) if isinstance(model, HTDemucs) else float("inf")
        if not 0 < segment <= limit:
            raise BeatLMError(f"--segment must be in (0, {limit:g}] seconds for this model")
        return segment

    @torch.no_grad()
    def vocals(self, block: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The removed stem of `block` [C, T] at `sample_rate`, at the block's rate, channels and length."""
        from demucs.apply import apply_model
        mix = match_channels(resample(block.float(), sample_rate, self.model.samplerate), self.model.audio_channels)
        ref = mix.mean(dim=0)
        scale = float(ref.std()) + 1e-8 if ref.numel() > 1 else 1.0
        offset = float(ref.mean())
        out = apply_model(self.model, ((mix - offset) / scale)[None], shifts=self.shifts, split=True,
                          overlap=self.overlap, segment=self.segment, device=self.device, progress=False)
        stem = out[0, self.stem_index].cpu() * scale
        stem = match_channels(resample(stem, self.model.samplerate, sample_rate), block.shape[0])
        length = block.shape[-1]
        if stem.shape[-1] < length:
            stem = torch.nn.functional.pad(stem, (0, length - stem.shape[-1]))
        return stem[..., :length]

    def accompaniment(self, block: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """`block` [C, T] minus its vocal estimate."""
        return block.float() - self.vocals(block, sample_rate)

    def stream(self, path: Path, sample_rate: int, frames: int) -> tp.Iterator[torch.Tensor]:
        """The accompaniment of a soundfile-readable file, as consecutive [C, T] pieces (blocks minus overlap)."""
        import soundfile as sf
        block = max(1, int(self.block_seconds * sample_rate))
        fade = int(self.crossfade_seconds * sample_rate)
        tail: tp.Optional[torch.Tensor] = None
        pos = 0
        with sf.SoundFile(str(path)) as source:
            while pos < frames:
                source.seek(pos)
                wanted = min(block, frames - pos)
                data = source.read(wanted, dtype="float32", always_2d=True)
                if data.shape[0] == 0:  # the header promised more frames than the file holds
                    break
                acc = self.accompaniment(torch.from_numpy(data.T.copy()), sample_rate)
                if tail is not None:
                    n = min(tail.shape[-1], acc.shape[-1])
                    ramp = torch.linspace(0.0, 1.0, n + 2)[1:-1]
                    acc[:, :n] = tail[:, :n] * (1 - ramp) + acc[:, :n] * ramp
                    tail = None
                if data.shape[0] < wanted or pos + data.shape[0] >= frames:
                    yield acc
                    return
                yield acc[:, :-fade]
                tail = acc[:, -fade:]
                pos += block - fade
        if tail is not None:
            yield tail


@dataclass
class SeparationResult:
    """What `separate_file` measured."""
    seconds: float
    sample_rate: int
    channels: int
    speech_ratio: float
    timeline: tp.List[float] = field(default_factory=list)
    elapsed: float = 0.0


def separate_file(src: Path, dst: Path, separator: tp.Union[Separator, tp.Callable[[], Separator]],
                  speech_fn: tp.Optional[SpeechFn] = None, scratch: tp.Optional[Path] = None) -> SeparationResult:
    """Write the accompaniment of `src` to the WAV `dst` (32-bit float, the source's rate and channels).

    `dst` appears only once complete (written to a hidden temporary, then renamed). `separator` may be a
    function returning one, called only once `src` has been found decodable (models load lazily).

    Raises:
        DecodeError: `src` cannot be decoded.
    """
    import soundfile as sf
    start = time.time()
    with readable_audio(src, scratch or dst.parent) as readable:
        info = sf.info(str(readable))
        if not isinstance(separator, Separator):
            separator = separator()
        meter = SpeechMeter(info.samplerate, speech_fn)
        written = 0
        with atomic_path(dst, overwrite=True) as tmp:
            with sf.SoundFile(str(tmp), "w", samplerate=info.samplerate, channels=info.channels,
                              subtype="FLOAT", format="WAV") as out:
                for piece in separator.stream(readable, info.samplerate, info.frames):
                    out.write(piece.T.numpy().astype(np.float32))
                    meter.feed(piece)
                    written += piece.shape[-1]
            if written == 0:
                raise DecodeError("no audio samples")
    ratio, timeline = meter.result()
    return SeparationResult(seconds=written / info.samplerate, sample_rate=info.samplerate, channels=info.channels,
                            speech_ratio=ratio, timeline=timeline, elapsed=time.time() - start)


def output_path(src: Path, raw: Path, out: Path) -> Path:
    """Where the accompaniment of `src` (a file under `raw`) goes: the same relative path under `out`, `.wav`."""
    return (out / src.relative_to(raw)).with_suffix(".wav")


def is_separated(dst: Path) -> bool:
    """Done when the WAV exists (the sidecar is written before the WAV is renamed into place)."""
    return dst.is_file() and sidecar_path(dst).is_file()


def separation_sidecar(src: Path, raw: Path, result: SeparationResult, model_info: tp.Dict[str, tp.Any],
                       threshold: float) -> tp.Dict[str, tp.Any]:
    """The input's sidecar with BeatLM's separation and residual-vocals records added under `beatlm`."""
    info = read_sidecar(src)
    extra = dict(info.get("beatlm") or {})
    extra["separation"] = {**model_info, "input": str(src.relative_to(raw)), "seconds": round(result.seconds, 3),
                           "sample_rate": result.sample_rate, "channels": result.channels,
                           "elapsed_s": round(result.elapsed, 2)}
    extra["vocals"] = {"speech_ratio": round(result.speech_ratio, 4), "threshold": threshold,
                       "flagged": result.speech_ratio > threshold, "timeline_hz": 1, "timeline": result.timeline}
    return {**info, "beatlm": extra}


def run_separation(raw: tp.Union[str, Path], out: tp.Union[str, Path],
                   make_separator: tp.Callable[[], Separator], model_info: tp.Dict[str, tp.Any],
                   max_speech_ratio: float = DEFAULT_MAX_SPEECH_RATIO, force: bool = False, progress: bool = True,
                   speech_fn: tp.Optional[SpeechFn] = None) -> StepSummary:
    """Separate every media file under `raw` into `out` (same relative paths, `.wav` + sidecar `.json`).

    Args:
        raw: Folder of downloaded audio (and their sidecars).
        out: Folder of accompaniments.
        make_separator: Builds the Separator; called only when a file needs separating.
        model_info: Recorded in every sidecar (model name, repo, stem).
        max_speech_ratio: Files whose accompaniment has more speech than this are flagged.
        force: Separate again files already done.
        progress: Show a progress bar.
        speech_fn: Speech probability per window (silero-vad by default; tests pass a stand-in).
    """
    raw, out = Path(raw), Path(out)
    if not 0 <= max_speech_ratio <= 1:
        raise BeatLMError("--max-speech-ratio must be between 0 and 1")
    media, unsupported = scan_media(raw)
    if out.resolve() == raw.resolve() or raw.resolve() in out.resolve().parents:
        raise BeatLMError("--out must be another folder than the input, and not inside it")
    summary = StepSummary("separate", unsupported=[str(p) for p in unsupported])
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    loaded: tp.List[Separator] = []

    def separator() -> Separator:  # the model loads when a file first needs it, once
        if not loaded:
            loaded.append(make_separator())
        return loaded[0]

    flagged = 0
    seen: tp.Set[Path] = set()
    with stop_on_disk_full("separate"):
        for src in progress_bar(media, "separate", progress):
            dst = output_path(src, raw, out)
            if dst in seen:
                summary.fail(src, f"another input also maps to {dst.name}; rename one of them")
                continue
            seen.add(dst)
            if is_separated(dst) and not force:
                summary.skipped += 1
                continue
            staged = dst.with_name(f".{dst.stem}.separated.tmp")  # hidden: no step reads it; cleaned after a kill
            try:
                result = separate_file(src, staged, separator, speech_fn, scratch=out)
            except DecodeError as exc:
                summary.fail(src, str(exc))
                continue
            sidecar = separation_sidecar(src, raw, result, model_info, max_speech_ratio)
            try:
                write_json_atomic(sidecar_path(dst), sidecar)
                staged.replace(dst)
            finally:
                staged.unlink(missing_ok=True)
            flagged += int(sidecar["beatlm"]["vocals"]["flagged"])
            summary.done += 1
    summary.extra["flagged"] = flagged
    return summary
