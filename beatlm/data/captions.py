"""The text side of (audio, text) training pairs, read from MusicInfo sidecars."""

import functools
import random
import typing as tp

from .clips import sidecar


@functools.lru_cache(maxsize=None)
def sidecar_captions(audio_path: str) -> tp.Tuple[str, ...]:
    """Every non-empty caption of an audio file's sidecar JSON: `description` first, then `captions`."""
    data = sidecar(audio_path)
    texts = [data.get("description")] + list(data.get("captions") or [])
    seen: tp.Dict[str, None] = {}
    for text in texts:
        if isinstance(text, str) and text.strip():
            seen.setdefault(text.strip(), None)
    return tuple(seen)


class CaptionSampler:
    """Pick the caption of an audio file: any of its sidecar captions at random, or its description.

    Args:
        sample: Draw among all captions (training); False always gives the description.
        seed: Seed of the draws.
    """

    def __init__(self, sample: bool = True, seed: int = 0):
        self.sample = sample
        self.rng = random.Random(seed)

    def __call__(self, audio_path: str, description: tp.Optional[str] = None) -> tp.Optional[str]:
        texts = sidecar_captions(audio_path)
        if not self.sample or not texts:
            return (description or "").strip() or (texts[0] if texts else None)
        return self.rng.choice(texts)
