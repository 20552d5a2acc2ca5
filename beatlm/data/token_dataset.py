"""Aligned crops of cached tokens: what the semantic, coarse and fine stages train on.

Codec codes and semantic tokens run on different clocks (e.g. 50 and 25 frames per second). A crop
starts on a tick of both clocks (every 1/25 s there), so semantic frame i of a crop covers the same
time as codec frames 2i and 2i + 1 of it: a stage can condition on the previous stage's tokens by
position, not only as a prefix.
"""

from fractions import Fraction
import logging
from math import gcd
import typing as tp

import torch

from ..utils.errors import BeatLMError
from .sharding import item_generator
from .token_cache import TokenCache

logger = logging.getLogger(__name__)


def _rate(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1000)


def _frames(seconds: float, rate: Fraction, what: str) -> int:
    frames = seconds * rate
    if abs(frames - round(frames)) > 1e-6:
        raise BeatLMError(f"segment_duration={seconds:g} s is not a whole number of {what} frames "
                          f"({float(rate):g} per second): pick a multiple of {float(1 / rate):g} s")
    return round(frames)


class TokenDataset(torch.utils.data.Dataset):
    """Crops of `segment_duration` seconds of a token cache, aligned across codec and semantic clocks.

    Each item is a dict of long tensors: `codes` [K, Tc], `semantic` [Ts] and `mulan` [levels] (the
    latter two when the cache holds them), `clip` (index of the clip in the cache) and `offset`
    (start of the crop in seconds, a float tensor).

    Args:
        cache: The token cache.
        segment_duration: Seconds per crop; None gives whole clips (cut to a whole number of ticks,
            so both streams stay aligned). Clips shorter than a segment are skipped (counted, warned).
        num_samples: Items per epoch, each a random clip (weighted by duration, as audiocraft's
            datasets); None gives one item per clip, in cache order.
        shuffle: Random crops that change with the epoch (`set_epoch`); if False, item i is the same every time.
            Either way item i depends only on the seed, the epoch and i: the same batches come out whatever
            the number of data workers, and processes that each read every N-th item share one global batch.
        seed: Seed of the crops.
    """

    def __init__(self, cache: TokenCache, segment_duration: tp.Optional[float] = None,
                 num_samples: tp.Optional[int] = None, shuffle: bool = True, seed: int = 0):
        self.cache = cache
        self.segment_duration = segment_duration
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        codec_rate = _rate(cache.codec_frame_rate)
        rates = [codec_rate] + ([_rate(cache.semantic_frame_rate)] if cache.has_semantic else [])
        tick = rates[0] if len(rates) == 1 else _fraction_gcd(*rates)  # ticks per second on both clocks
        self.tick_rate = float(tick)
        self.codes_per_tick = int(codec_rate / tick)
        self.semantic_per_tick = int(rates[-1] / tick) if cache.has_semantic else 0
        if segment_duration is None:
            self.codes_frames = self.semantic_frames = None
        else:
            self.codes_frames = _frames(segment_duration, codec_rate, "codec")
            self.semantic_frames = _frames(segment_duration, rates[-1], "semantic") if cache.has_semantic else 0
        self._starts = [self._num_starts(i) for i in range(len(cache))]
        self.clips = [i for i, starts in enumerate(self._starts) if starts > 0]
        short = len(cache) - len(self.clips)
        if short:
            logger.warning("skipping %d of %d clips of %s shorter than the %g s segment", short, len(cache),
                           cache.path, segment_duration)
        if not self.clips:
            raise BeatLMError(f"no clip of token cache {cache.path} is as long as segment_duration="
                              f"{segment_duration:g} s: use a shorter segment")
        self._weights = torch.tensor([float(cache.clip_metadata[i]["duration"]) for i in self.clips])

    def _ticks(self, index: int) -> int:
        """Whole ticks of clip `index` covered by every stream."""
        ticks = self.cache.codes_length(index) // self.codes_per_tick
        if self.semantic_per_tick:
            ticks = min(ticks, self.cache.semantic_length(index) // self.semantic_per_tick)
        return ticks

    def _num_starts(self, index: int) -> int:
        """Number of possible crop starts (in ticks) in clip `index`; 0 when it is too short."""
        if self.segment_duration is None:
            return 1 if self._ticks(index) > 0 else 0
        spare = (self.cache.codes_length(index) - self.codes_frames) // self.codes_per_tick
        if self.semantic_per_tick:
            spare = min(spare, (self.cache.semantic_length(index) - self.semantic_frames) // self.semantic_per_tick)
        return max(0, spare + 1)

    def __len__(self) -> int:
        return self.num_samples if self.num_samples is not None else len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops of `epoch` (with `shuffle`; set before iterating, data workers get a copy)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> tp.Dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for a dataset of {len(self)} items")
        rng = item_generator(self.seed, self.epoch if self.shuffle else None, index)
        if self.num_samples is None:
            clip = self.clips[index]
        else:
            clip = self.clips[int(torch.multinomial(self._weights, 1, generator=rng))]
        item = self.cache[clip]
        if self.segment_duration is None:
            ticks = self._ticks(clip)
            start, codes_len, semantic_len = 0, ticks * self.codes_per_tick, ticks * self.semantic_per_tick
        else:
            start = int(torch.randint(self._starts[clip], (1,), generator=rng))
            codes_len, semantic_len = self.codes_frames, self.semantic_frames
        out = {"codes": item["codes"][:, start * self.codes_per_tick:][:, :codes_len]}
        if "semantic" in item:
            out["semantic"] = item["semantic"][start * self.semantic_per_tick:][:semantic_len]
        if "mulan" in item:
            out["mulan"] = item["mulan"]
        out["clip"] = torch.tensor(clip)
        out["offset"] = torch.tensor(start / self.tick_rate)
        return out


def _fraction_gcd(a: Fraction, b: Fraction) -> Fraction:
    """Largest rate both `a` and `b` are whole multiples of (25 for 50 and 25 frames per second)."""
    return Fraction(gcd(a.numerator * b.denominator, b.numerator * a.denominator), a.denominator * b.denominator)


def collate(items: tp.Sequence[tp.Mapping[str, torch.Tensor]]) -> tp.Dict[str, torch.Tensor]:
    """Stack `TokenDataset` items into a batch; clips of unequal length (whole-clip mode) are padded.

    Returns:
        `codes` [B, K, Tc], `semantic` [B, Ts], `mulan` [B, levels], `clip` [B], `offset` [B], and
        `codes_mask` [B, Tc] / `semantic_mask` [B, Ts], True on real frames, False on padding (zeros).
    """
    batch: tp.Dict[str, torch.Tensor] = {}
    for name in items[0]:
        tensors = [item[name] for item in items]
        if name in ("codes", "semantic"):
            length = max(t.shape[-1] for t in tensors)
            mask = torch.zeros(len(tensors), length, dtype=torch.bool)
            padded = tensors[0].new_zeros((len(tensors),) + tensors[0].shape[:-1] + (length,))
            for row, tensor in enumerate(tensors):
                padded[row, ..., :tensor.shape[-1]] = tensor
                mask[row, :tensor.shape[-1]] = True
            batch[name], batch[f"{name}_mask"] = padded, mask
        else:
            batch[name] = torch.stack(tensors)
    return batch
