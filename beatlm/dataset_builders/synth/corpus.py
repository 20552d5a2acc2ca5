"""Render a whole corpus: resumable, atomic, deterministic, in parallel; then manifests and a dset YAML.

Layout of a corpus folder:

    corpus.json                       render parameters (a re-run must match them to resume)
    audio/{train,valid,test}/beat_000123.wav + .json   audio and MusicInfo sidecar
    egs/{train,valid,test}/data.jsonl.gz               audiocraft manifests
    timings.jsonl                     CPU seconds per rendered clip (for the speed report)
"""

from dataclasses import asdict, dataclass
import hashlib
import json
import multiprocessing as mp
from pathlib import Path
import resource
import signal
import time
import typing as tp

import numpy as np

from ...utils.errors import BeatLMError
from ...utils.files import atomic_path
from . import instruments
from .render import RENDER_VERSION, RenderConfig, clip_name, render_clip
from .styles import Style, required_samples, resolve_styles

CORPUS_FILE = "corpus.json"
SPLITS = ("train", "valid", "test")
SPLIT_PERIOD = 20  # of every 20 clips: 18 train, 1 valid, 1 test
MIN_CLIPS = 3
MAX_DURATION = 300.0
MIN_DURATION = 1.0
MIN_RATE, MAX_RATE = 8000, 96000


def clip_split(index: int) -> str:
    """Split of clip `index` (fixed by the index, so growing a corpus never moves a clip)."""
    slot = index % SPLIT_PERIOD
    return "valid" if slot == 1 else "test" if slot == 2 else "train"


@dataclass
class CorpusSpec:
    """The parameters that define a corpus; clip `i` depends on these and `i` only."""
    seed: int
    duration: float
    sample_rate: int
    styles: tp.List[str]
    soundfont: str
    soundfont_sha1: str
    samples: str
    render_version: int = RENDER_VERSION

    def identity(self) -> tp.Dict[str, tp.Any]:
        """What must match for a re-run to resume (paths may move, contents may not)."""
        d = asdict(self)
        d.pop("soundfont")
        d.pop("samples")
        return d


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def validate_args(num_clips: int, duration: float, sample_rate: int, workers: int) -> None:
    """Raise a BeatLMError with the fix for impossible render arguments."""
    if num_clips < MIN_CLIPS:
        raise BeatLMError(f"--num-clips must be at least {MIN_CLIPS} (one clip per train/valid/test split), "
                          f"got {num_clips}")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise BeatLMError(f"--duration must be between {MIN_DURATION:g} and {MAX_DURATION:g} seconds, got {duration:g}")
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise BeatLMError(f"--sample-rate must be between {MIN_RATE} and {MAX_RATE} Hz (e.g. 32000), got {sample_rate}")
    if workers < 1:
        raise BeatLMError(f"--workers must be at least 1, got {workers}")


def prepare_folder(out: Path, spec: CorpusSpec) -> None:
    """Check that `out` is empty, missing, or a corpus rendered with the same parameters; record the spec."""
    marker = out / CORPUS_FILE
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise BeatLMError(f"{marker} is unreadable ({exc}); render into a new --out folder") from None
        mismatched = [k for k, v in spec.identity().items() if previous.get(k) != v]
        if mismatched:
            details = ", ".join(f"{k}={previous.get(k)!r} (now {getattr(spec, k)!r})" for k in mismatched)
            raise BeatLMError(f"{out} holds a corpus rendered with {details}; re-run with the same options to resume "
                              "it, or choose a new --out folder")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BeatLMError(f"{out} already exists and is not a BeatLM corpus (no {CORPUS_FILE}); choose an empty or "
                          "new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(marker) as tmp:
        tmp.write_text(json.dumps(asdict(spec), indent=2) + "\n")


def clip_paths(out: Path, index: int) -> tp.Tuple[Path, Path]:
    """(wav, sidecar) paths of clip `index`."""
    folder = out / "audio" / clip_split(index)
    name = clip_name(index)
    return folder / f"{name}.wav", folder / f"{name}.json"


def is_done(out: Path, index: int) -> bool:
    """A clip is done when its WAV exists: the sidecar is written first and both writes are atomic."""
    wav, info = clip_paths(out, index)
    return wav.is_file() and info.is_file()


def remove_stale_temporaries(out: Path) -> int:
    """Delete temporary files left by a killed run (atomic writes leave `.NAME.XXXX.tmp` beside the target)."""
    removed = 0
    for split in SPLITS:
        folder = out / "audio" / split
        if folder.is_dir():
            for tmp in folder.glob(".beat_*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


# ---------------------------------------------------------------- worker side

_WORKER: tp.Dict[str, tp.Any] = {}


def _init_worker(styles: tp.List[str], config: RenderConfig, out: str, ignore_sigint: bool) -> None:
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _WORKER["styles"] = resolve_styles(styles)
    _WORKER["config"] = config
    _WORKER["out"] = Path(out)
    _WORKER["bank"] = _warm_bank(_WORKER["styles"], config)


def _warm_bank(styles: tp.Sequence[Style], config: RenderConfig) -> instruments.SampleBank:
    """A sample bank with every sample loaded: this start-up cost is paid once per process, outside the
    per-clip timings (the render command reports it separately)."""
    bank = instruments.SampleBank(config.samples, config.sample_rate)
    bank.preload(required_samples(styles))
    return bank


def _cpu_seconds() -> float:
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def write_clip(index: int, styles: tp.Sequence[Style], config: RenderConfig, out: Path,
               bank: instruments.SampleBank) -> float:
    """Render clip `index` and write its sidecar then its WAV atomically; returns the CPU seconds it took."""
    import soundfile as sf
    start = _cpu_seconds()
    pcm, info = render_clip(styles, index, config, bank)
    wav_path, info_path = clip_paths(out, index)
    with atomic_path(info_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    with atomic_path(wav_path, overwrite=True) as tmp:
        sf.write(tmp, pcm, config.sample_rate, subtype="PCM_16", format="WAV")
    return _cpu_seconds() - start


def _work(index: int) -> tp.Tuple[int, float]:
    return index, write_clip(index, _WORKER["styles"], _WORKER["config"], _WORKER["out"], _WORKER["bank"])


# ---------------------------------------------------------------- parent side

def write_manifests(out: Path, progress: bool = False) -> tp.Dict[str, Path]:
    """One audiocraft manifest per split (egs/<split>/data.jsonl.gz)."""
    from ...data.manifest import write_manifest
    return {split: write_manifest(out / "audio" / split, out / "egs" / split, progress=progress) for split in SPLITS
            if (out / "audio" / split).is_dir()}


def dset_yaml(out: Path, sample_rate: int) -> str:
    """Text of the `dset` config that points a solver at the corpus manifests."""
    egs = (out / "egs").resolve()
    return ("# @package __global__\n"
            f"# Written by `beatlm corpus render` for the corpus in {out.resolve()}\n"
            "datasource:\n"
            f"  max_sample_rate: {sample_rate}\n"
            "  max_channels: 1\n"
            f"  train: {egs / 'train'}\n"
            f"  valid: {egs / 'valid'}\n"
            f"  evaluate: {egs / 'test'}\n"
            f"  generate: {egs / 'test'}\n")


def write_dset(out: Path, sample_rate: int, config_dir: Path, name: str) -> Path:
    """Write `<config_dir>/dset/beats/<name>.yaml`; refuses to replace one that points elsewhere."""
    target = config_dir / "dset" / "beats" / f"{name}.yaml"
    text = dset_yaml(out, sample_rate)
    if target.exists():
        if target.read_text() == text:
            return target
        raise BeatLMError(f"{target} already exists for another corpus; pass --dset-name NAME to pick another name "
                          "(or delete that file)")
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return target


def render_corpus(out: tp.Union[str, Path], num_clips: int, duration: float, sample_rate: int, seed: int,
                  workers: int = 1, styles: tp.Optional[tp.Sequence[str]] = None,
                  soundfont: tp.Optional[tp.Union[str, Path]] = None, samples: tp.Optional[tp.Union[str, Path]] = None,
                  progress: bool = True) -> tp.Dict[str, tp.Any]:
    """Render (or finish rendering) a corpus and write its manifests.

    Args:
        out: Corpus folder (created; must be empty, new, or a corpus with the same parameters).
        num_clips: Clips wanted in total (existing ones are kept, missing ones rendered).
        duration: Seconds per clip.
        sample_rate: Hz.
        seed: Corpus seed; clip `i` depends only on (seed, i, the parameters), not on workers or order.
        workers: Processes rendering in parallel.
        styles: Sub-styles to draw from (default: all).
        soundfont: General MIDI .sf2 (default: pretty_midi's TimGM6mb).
        samples: Folder of drum one-shots (default: the bundled CC0 set).
        progress: Show a progress bar.
    Returns:
        A summary: counts, CPU seconds per clip, manifest paths.
    """
    validate_args(num_clips, duration, sample_rate, workers)
    chosen = resolve_styles(styles)
    sf2 = instruments.check_soundfont(soundfont or instruments.default_soundfont())
    from ...assets import DRUMS_CC0_DIR
    sample_dir = instruments.check_sample_dir(samples or DRUMS_CC0_DIR, required_samples(chosen))
    instruments.fluidsynth_binary()
    out = Path(out)
    spec = CorpusSpec(seed=seed, duration=float(duration), sample_rate=int(sample_rate),
                      styles=[s.name for s in chosen], soundfont=str(sf2.resolve()), soundfont_sha1=_sha1(sf2),
                      samples=str(sample_dir.resolve()))
    prepare_folder(out, spec)
    remove_stale_temporaries(out)
    config = RenderConfig(sample_rate=int(sample_rate), duration=float(duration), seed=seed, soundfont=sf2.resolve(),
                          samples=sample_dir.resolve())
    todo = [i for i in range(num_clips) if not is_done(out, i)]
    cpu: tp.List[float] = []
    if todo:
        _render_many(todo, chosen, config, out, workers, progress, cpu)
    manifests = write_manifests(out, progress)
    return {"rendered": len(todo), "present": sum(is_done(out, i) for i in range(num_clips)),
            "cpu_per_clip": float(np.mean(cpu)) if cpu else None, "manifests": manifests}


def _render_many(todo: tp.List[int], styles: tp.Sequence[Style], config: RenderConfig, out: Path, workers: int,
                 progress: bool, cpu: tp.List[float]) -> None:
    from tqdm import tqdm
    bar = tqdm(total=len(todo), unit="clip", desc="rendering", disable=not progress)
    log = open(out / "timings.jsonl", "a")
    try:
        def record(index: int, seconds: float) -> None:
            cpu.append(seconds)
            log.write(json.dumps({"index": index, "cpu_s": round(seconds, 4), "duration": config.duration}) + "\n")
            log.flush()
            bar.update(1)

        if workers == 1:
            bank = _warm_bank(styles, config)
            for index in todo:
                record(index, write_clip(index, styles, config, out, bank))
            return
        ctx = mp.get_context("spawn")
        pool = ctx.Pool(workers, initializer=_init_worker,
                        initargs=([s.name for s in styles], config, str(out), True))
        try:
            for index, seconds in pool.imap_unordered(_work, todo, chunksize=1):
                record(index, seconds)
            pool.close()
        except BaseException:
            pool.terminate()  # workers die mid-clip; their temporaries are removed below and on the next run
            raise
        finally:
            pool.join()
            remove_stale_temporaries(out)
    finally:
        bar.close()
        log.close()

