"""Checks run on the manifests named in a config before any training starts.

audiocraft's datasets fail deep inside a data-loader worker, mid-epoch, when a manifest is missing
or lists a file that is gone, empty or unreadable. We check up front and say which file and what
to do, once, before a solver is built.
"""

from concurrent.futures import ThreadPoolExecutor
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


def _problem(entry: tp.Any) -> tp.Optional[str]:
    from audiocraft.data.audio import audio_info
    path = Path(entry.path)
    if not path.is_file():
        return "is missing"
    if path.stat().st_size == 0 or entry.duration <= 0:
        return "is empty (zero length)"
    try:
        info = audio_info(path)
    except Exception as exc:  # any decoder error means the file cannot be read
        return f"cannot be read as audio ({type(exc).__name__}: {exc})"
    if info.duration <= 0:
        return "is empty (zero length)"
    return None


def check_manifest(path: tp.Union[str, Path]) -> int:
    """Check every file a manifest lists: present, non-empty and readable as audio.

    Args:
        path: Manifest file or the folder holding it.
    Returns:
        The number of files checked.
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
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for entry, problem in zip(entries, pool.map(_problem, entries)):
            if problem is not None:
                raise BeatLMError(f"{entry.path} (listed in {manifest}) {problem}; "
                                  f"replace or delete it, then {REBUILD_HINT}")
    return len(entries)


def check_datasource(cfg: omegaconf.DictConfig) -> None:
    """Check the manifests of every split the solver will load (all of them unless `execute_only`)."""
    if not cfg.get("datasource") or not cfg.datasource.get("check_files", True):
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
