"""Whole clips and their MusicInfo sidecars, read from audiocraft manifests (for fitting and probing)."""

import json
from pathlib import Path
import typing as tp

import torch

from ..utils.errors import BeatLMError
from .checks import REBUILD_HINT, manifest_file


def manifest_entries(manifests: tp.Sequence[tp.Union[str, Path]], limit: tp.Optional[int] = None) -> tp.List[tp.Any]:
    """AudioMeta entries of one or more manifests (folders holding `data.jsonl[.gz]`, or files), in order.

    Args:
        manifests: Manifests to pool.
        limit: Keep the first `limit` entries only.
    Raises:
        BeatLMError: a manifest is missing, unreadable or lists no clip.
    """
    from audiocraft.data.audio_dataset import load_audio_meta
    entries = []
    for path in manifests:
        manifest = manifest_file(path)
        try:
            entries += load_audio_meta(manifest)
        except Exception as exc:  # gzip, JSON and key errors alike
            raise BeatLMError(f"manifest {manifest} cannot be parsed ({exc}); {REBUILD_HINT}") from None
    entries = entries[:limit] if limit else entries
    if not entries:
        raise BeatLMError(f"the manifests {', '.join(map(str, manifests))} list no clip")
    return entries


def read_clip(path: tp.Union[str, Path]) -> tp.Tuple[torch.Tensor, int]:
    """(wav [C, T], sample_rate) of a whole audio file; BeatLMError if it cannot be read."""
    from audiocraft.data.audio import audio_read
    try:
        return audio_read(path)
    except Exception as exc:  # any decoder error
        raise BeatLMError(f"{path} cannot be read as audio ({type(exc).__name__}: {exc})") from None


def iter_clips(entries: tp.Iterable[tp.Any]) -> tp.Iterator[tp.Tuple[torch.Tensor, int]]:
    """(wav [C, T], sample_rate) of each manifest entry, read in order."""
    for entry in entries:
        yield read_clip(entry.path)


def sidecar(audio_path: tp.Union[str, Path]) -> tp.Dict[str, tp.Any]:
    """The MusicInfo sidecar JSON next to an audio file ({} when there is none or it is not JSON)."""
    try:
        data = json.loads(Path(audio_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
