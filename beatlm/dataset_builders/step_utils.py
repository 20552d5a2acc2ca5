"""Shared plumbing of the `beatlm data` steps that work on folders of audio.

Every step walks an input folder, skips what an earlier run finished, writes each output atomically,
and ends with a summary of what was done, skipped and failed. A killed run leaves at most hidden
temporaries (`.NAME.XXXX.tmp` files, `.NAME.partial` folders); the walkers here never return them and
`remove_stale_temporaries` deletes them at the start of the next run.
"""

import contextlib
from dataclasses import dataclass, field
import errno
import json
import os
from pathlib import Path
import shutil
import subprocess
import tempfile
import typing as tp

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path

MEDIA_EXTS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aiff", ".aif",
                        ".wma", ".webm", ".mp4", ".mkv", ".mka", ".mov", ".w64"})
# Files the steps write or find beside audio and silently leave alone (sidecars, features, yt-dlp leftovers).
SIDE_EXTS = frozenset({".json", ".npz", ".txt", ".jsonl", ".gz", ".yaml", ".yml", ".md", ".log", ".part",
                       ".ytdl", ".jpg", ".jpeg", ".png", ".webp", ".lock"})
PARTIAL_SUFFIX = ".partial"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass
class StepSummary:
    """What a step did: counts of done, skipped, failed and unsupported inputs, and why each failure failed."""
    step: str
    done: int = 0
    skipped: int = 0
    failed: tp.List[tp.Tuple[str, str]] = field(default_factory=list)
    unsupported: tp.List[str] = field(default_factory=list)
    extra: tp.Dict[str, tp.Any] = field(default_factory=dict)
    notes: tp.List[str] = field(default_factory=list)

    def fail(self, path: tp.Union[str, Path], reason: str) -> None:
        self.failed.append((str(path), reason))

    def count(self, key: str, n: int = 1) -> None:
        """Add `n` to the extra count `key` (duplicates, retries, ...), shown in the summary line."""
        self.extra[key] = self.extra.get(key, 0) + n

    def merge(self, other: "StepSummary") -> None:
        """Add another summary's failures, extra counts and notes (e.g. a caption source's request counts)."""
        self.failed.extend(other.failed)
        self.unsupported.extend(other.unsupported)
        for key, value in other.extra.items():
            self.count(key, value)
        self.notes.extend(other.notes)

    def as_dict(self) -> tp.Dict[str, tp.Any]:
        return {"step": self.step, "done": self.done, "skipped": self.skipped, "failed": len(self.failed),
                "unsupported": len(self.unsupported), **self.extra, "notes": list(self.notes),
                "failures": [{"path": p, "reason": r} for p, r in self.failed]}

    def format(self, max_lines: int = 10) -> str:
        """A one-line summary (counts, then notes), then up to `max_lines` failures and unsupported files."""
        extra = "".join(f", {key.replace('_', ' ')} {value}" for key, value in self.extra.items()
                        if isinstance(value, (int, float, str)))
        unsupported = f", {len(self.unsupported)} unsupported" if self.unsupported else ""
        lines = [f"{self.step}: {self.done} done, {self.skipped} skipped (already done), {len(self.failed)} failed"
                 f"{unsupported}{extra}" + "".join(f"; {note}" for note in self.notes)]
        for path, reason in self.failed[:max_lines]:
            lines.append(f"  failed: {path}: {reason}")
        if len(self.failed) > max_lines:
            lines.append(f"  ... and {len(self.failed) - max_lines} more failures")
        for path in self.unsupported[:max_lines]:
            lines.append(f"  unsupported (not audio): {path}")
        if len(self.unsupported) > max_lines:
            lines.append(f"  ... and {len(self.unsupported) - max_lines} more unsupported files")
        return "\n".join(lines)


def is_hidden(path: Path, root: Path) -> bool:
    """A path under `root` with a component starting with a dot (temporaries, staging folders)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def walk_files(root: Path) -> tp.List[Path]:
    """Every non-hidden file under `root`, sorted (a stable order makes progress and summaries repeatable)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not is_hidden(p, root))


def scan_media(root: tp.Union[str, Path], exts: tp.AbstractSet[str] = MEDIA_EXTS
               ) -> tp.Tuple[tp.List[Path], tp.List[Path]]:
    """(media files, unsupported files) under `root`; sidecars and other known side files are neither.

    Raises:
        BeatLMError: `root` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise BeatLMError(f"input folder {root} does not exist (or is not a folder)")
    media, unsupported = [], []
    for path in walk_files(root):
        ext = path.suffix.lower()
        if ext in exts:
            media.append(path)
        elif ext not in SIDE_EXTS:
            unsupported.append(path)
    return media, unsupported


def remove_stale_temporaries(root: Path) -> int:
    """Delete what killed runs left under `root`: `.NAME.XXXX.tmp` files and `.NAME.partial` folders."""
    removed = 0
    if not root.is_dir():
        return 0
    for path in sorted(root.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
            removed += 1
        elif path.is_dir() and path.name.endswith(PARTIAL_SUFFIX):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def sidecar_path(audio: Path) -> Path:
    """The MusicInfo sidecar of an audio file: same name, `.json`."""
    return audio.with_suffix(".json")


def read_sidecar(audio: Path) -> tp.Dict[str, tp.Any]:
    """The sidecar JSON of `audio` as a dict; {} when it is missing or unreadable."""
    path = sidecar_path(audio)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json_atomic(path: Path, data: tp.Any) -> None:
    """Write `data` as indented JSON through a temporary file renamed onto `path`."""
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def stop_on_disk_full(step: str) -> tp.Iterator[None]:
    """Turn a full disk into a BeatLMError that says finished outputs are kept and the step can be re-run."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise BeatLMError(f"{step}: the disk is full ({exc.filename or exc}); every finished output is kept and "
                              "no partial file is left: free some space and run the same command again") from None
        raise


class DecodeError(Exception):
    """A media file that neither libsndfile nor ffmpeg can decode (corrupt, or no audio stream)."""


def _soundfile_readable(path: Path) -> bool:
    import soundfile as sf
    try:
        info = sf.info(str(path))
    except Exception:
        return False
    # libsndfile's MP3 seeking is approximate: decode those with ffmpeg like the other compressed formats.
    return info.frames > 0 and info.format != "MP3"


@contextlib.contextmanager
def readable_audio(path: Path, scratch: Path) -> tp.Iterator[Path]:
    """Yield a file soundfile can read and seek: `path` itself, or a float WAV decoded by ffmpeg into `scratch`.

    The decoded copy is a hidden `.tmp` file (removed on exit, and by `remove_stale_temporaries` after a kill).

    Raises:
        DecodeError: ffmpeg cannot decode the file.
    """
    if _soundfile_readable(path):
        yield path
        return
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.decode.", suffix=".tmp", dir=scratch)
    os.close(fd)
    tmp = Path(name)
    try:
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(path), "-vn", "-map", "0:a:0",
               "-acodec", "pcm_f32le", "-f", "wav", str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise BeatLMError("ffmpeg is needed to decode compressed media but is not installed "
                              "(Debian: apt-get install ffmpeg)") from None
        if proc.returncode != 0 or not _soundfile_readable(tmp):
            last = (proc.stderr.strip().splitlines() or ["no audio stream"])[-1]
            raise DecodeError(f"cannot decode ({last[:200]})")
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def progress_bar(items: tp.Sequence[tp.Any], desc: str, enabled: bool, unit: str = "file") -> tp.Iterable[tp.Any]:
    """tqdm over `items` (or the items themselves when progress is off)."""
    if not enabled:
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit=unit, dynamic_ncols=True)
