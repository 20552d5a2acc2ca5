"""Checks run on the manifests named in a config before any training starts.

audiocraft's datasets fail deep inside a data-loader worker, mid-epoch, when a manifest is missing
or lists a file that is gone, empty or unreadable. We check up front and say which file and what
to do, once, before a solver is built.
"""

from concurrent.futures import ThreadPoolExecutor
import gzip
import hashlib
import os
from pathlib import Path
import typing as tp

import omegaconf

from ..utils.errors import BeatLMError

MANIFEST_NAMES = ("data.jsonl.gz", "data.jsonl")
REBUILD_HINT = "rebuild the manifest with: python -m audiocraft.data.audio_dataset AUDIO_DIR OUT/data.jsonl.gz"


def manifest_file(path: tp.Union[str, Path]) -> Path:
    """The manifest file for a datasource entry (a folder holding `data.jsonl[.gz]`, or the file)."""
    path = Path(path)
    if path.is_dir():
        for name in MANIFEST_NAMES:
            if (path / name).is_file():
                return path / name
        raise BeatLMError(f"no manifest in {path} (expected {' or '.join(MANIFEST_NAMES)}); {REBUILD_HINT}")
    if path.is_file():
        return path
    raise BeatLMError(f"manifest {path} does not exist; pass an existing dset=<name> or datasource.<split>=DIR, "
                      f"or {REBUILD_HINT}")


def manifest_digest(manifest: Path, entries: tp.Sequence[tp.Any]) -> str:
    """Hash of a manifest's content and of the size and modification time of every file it lists."""
    digest = hashlib.sha256()
    opener = gzip.open if manifest.name.lower().endswith(".gz") else open
    with opener(manifest, "rb") as handle:
        digest.update(handle.read())
    for entry in entries:
        try:
            stat = os.stat(entry.path)
            digest.update(f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        except OSError:
            digest.update(f"{entry.path}:missing;".encode())
    return digest.hexdigest()[:16]


def _duration(path: Path) -> float:
    """Seconds of audio in `path`: libsndfile's header read (WAV, FLAC, OGG, ...; ~20x faster than opening
    the file with FFmpeg, which matters for 100k-clip manifests), else audiocraft's `audio_info` (PyAV)."""
    import soundfile
    try:
        info = soundfile.info(str(path))
    except Exception:  # a format libsndfile does not read (m4a, some mp3): ask FFmpeg
        from audiocraft.data.audio import audio_info
        return audio_info(path).duration
    return info.frames / info.samplerate if info.samplerate else 0.0


def _problem(entry: tp.Any) -> tp.Optional[str]:
    path = Path(entry.path)
    if not path.is_file():
        return "is missing"
    if path.stat().st_size == 0 or entry.duration <= 0:
        return "is empty (zero length)"
    try:
        duration = _duration(path)
    except Exception as exc:  # any decoder error means the file cannot be read
        return f"cannot be read as audio ({type(exc).__name__}: {exc})"
    if duration <= 0:
        return "is empty (zero length)"
    return None


def check_manifest(path: tp.Union[str, Path]) -> int:
    """Check every file a manifest lists: present, non-empty and readable as audio.

    A manifest that passed is remembered in `<manifest>.checked` (its `manifest_digest`: the manifest's
    content and every file's size and modification time), and is not opened file by file again until
    one of those changes: 100k files take ~25 CPU-seconds to open, ~2 to stat.

    Args:
        path: Manifest file or the folder holding it.
    Returns:
        The number of files listed.
    Raises:
        BeatLMError: naming the first bad file and how to fix it.
    """
    from audiocraft.data.audio_dataset import load_audio_meta
    manifest = manifest_file(path)
    try:
        entries = load_audio_meta(manifest)
    except Exception as exc:
        raise BeatLMError(f"manifest {manifest} cannot be parsed ({exc}); {REBUILD_HINT}") from None
    if not entries:
        raise BeatLMError(f"manifest {manifest} lists no audio file; {REBUILD_HINT}")
    digest = manifest_digest(manifest, entries)
    record = manifest.with_name(manifest.name + ".checked")
    try:
        if record.read_text().strip() == digest:
            return len(entries)
    except OSError:
        pass
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for entry, problem in zip(entries, pool.map(_problem, entries)):
            if problem is not None:
                raise BeatLMError(f"{entry.path} (listed in {manifest}) {problem}; "
                                  f"replace or delete it, then {REBUILD_HINT}")
    try:
        record.write_text(digest + "\n")
    except OSError:  # a read-only data set: checked again next time
        pass
    return len(entries)


def check_datasource(cfg: omegaconf.DictConfig) -> None:
    """Check the manifests of every split the solver will load (all of them unless `execute_only`).

    With several processes only rank 0 checks (a failure there stops them all)."""
    import flashy
    if not cfg.get("datasource") or not cfg.datasource.get("check_files", True):
        return
    if not flashy.distrib.is_rank_zero():
        return
    only = cfg.get("execute_only")
    if only is None:
        # audiocraft solvers train on `train`, validate on `valid`, and run the evaluate and generate
        # stages at the last epoch whatever `evaluate.every` / `generate.every` say.
        missing = [split for split in ("train", "valid", "evaluate", "generate") if not cfg.datasource.get(split)]
        if missing:
            raise BeatLMError(f"no data for split(s) {', '.join(missing)}: pass dset=<name> (a file under "
                              "config/dset/) or datasource.<split>=DIR for each")
    for split, path in cfg.datasource.items():
        if not isinstance(path, str) or (only is not None and split != only):
            continue
        check_manifest(path)
