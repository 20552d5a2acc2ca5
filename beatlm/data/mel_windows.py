"""MuLaN training windows from log-mel frames computed once per clip and kept in memory.

On CPU the log-mel front-end costs as much as MuLaN's audio tower: 64 ten-second windows take
about 0.6 s on 2 cores, and each step allocates hundreds of megabytes for the STFT. For a corpus
that fits in memory (micro: 4000 ten-second clips are 250 MB of float16 frames), every clip's
frames are computed once when the dataset is built and training windows are cut from them, as
audiocraft's `MusicDataset` cuts audio windows: a clip drawn with probability proportional to its
duration, a random start, padding when the clip is shorter than a window.
"""

import logging
import typing as tp

import torch

from ..utils.errors import BeatLMError
from .captions import sidecar_captions
from .clips import manifest_entries, read_clip
from .sharding import item_generator

logger = logging.getLogger(__name__)


class MelWindow(tp.NamedTuple):
    """The non-audio half of an item: what MuLaN's solver needs besides the frames."""
    path: str  # the clip's audio file (its sidecar holds the captions)
    description: tp.Optional[str]  # the sidecar's first caption, or None
    rms: float  # root mean square of the window's audio


class MelWindowDataset(torch.utils.data.Dataset):
    """Windows of log-mel frames [window_frames, n_mels] of the clips of one or more manifests.

    Args:
        manifests: audiocraft manifests (folders holding `data.jsonl[.gz]`, or files).
        frontend: Mono waveform [B, T] -> log-mel frames [B, frames, n_mels] (`beatlm.modules.mulan_frontend`);
            it has `sample_rate` and `hop_length`.
        segment_duration: Seconds per window.
        num_samples: Items per epoch (None: one per clip).
        shuffle: Random windows that change with the epoch (`set_epoch`); if False, item i is the same every
            time. Either way item i depends only on the seed, the epoch and i (see `beatlm.data.sharding`).
        seed: Seed of the draws.
        batch_size: Clips per front-end call while building. Small batches are faster: the STFT's power
            spectrum of 8 ten-second clips stays in the CPU cache, that of 32 does not (1000 clips on 2
            workers: 8.4-10 s at 4-8 clips, 16-18 s at 32).
        num_workers: Worker processes that read and transform clips while building (0: this process).
        progress: Show a progress bar while building.
    """

    def __init__(self, manifests: tp.Sequence[tp.Any], frontend: tp.Any, segment_duration: float,
                 num_samples: tp.Optional[int] = None, shuffle: bool = True, seed: int = 0, batch_size: int = 8,
                 num_workers: int = 0, progress: bool = True):
        self.frontend = frontend
        self.window_frames = int(round(segment_duration * frontend.sample_rate / frontend.hop_length))
        if self.window_frames < 1:
            raise BeatLMError(f"segment_duration={segment_duration:g} s is shorter than one log-mel frame")
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.paths: tp.List[str] = []
        frames, energy, lengths, skipped = self._build(manifest_entries(list(manifests)), batch_size, num_workers,
                                                       progress)
        if not self.paths:
            raise BeatLMError(f"no clip of {', '.join(map(str, manifests))} could be read (first: {skipped[0]})")
        if skipped:
            logger.warning("log-mel windows: skipped %d clips that could not be read (first: %s)",
                           len(skipped), skipped[0])
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        self.frames = frames  # float16 [total frames, n_bins]
        self.energy = energy  # mean square of the audio under each frame [total frames]
        self.weights = lengths.double() / lengths.sum()
        self.num_samples = len(self.paths) if num_samples is None else int(num_samples)

    def _build(self, entries: tp.Sequence[tp.Any], batch_size: int, num_workers: int,
               progress: bool) -> tp.Tuple[torch.Tensor, torch.Tensor, torch.Tensor, tp.List[str]]:
        """(frames [total, n_bins] float16, energy [total], frames per clip [clips], skip reasons); fills `paths`."""
        from tqdm import tqdm
        chunks = _ClipFrames(entries, self.frontend, batch_size)
        # Workers (one thread each) read and transform chunks in parallel; order is kept.
        loader = torch.utils.data.DataLoader(chunks, batch_size=None, num_workers=num_workers)
        frames: tp.List[torch.Tensor] = []
        energy: tp.List[torch.Tensor] = []
        lengths: tp.List[int] = []
        skipped: tp.List[str] = []
        with tqdm(total=len(entries), unit="clip", desc="log-mel frames", disable=not progress) as bar:
            for chunk in loader:
                self.paths.extend(chunk.paths)
                frames.append(chunk.frames.clone())  # a private copy: a worker's shared tensor holds a file handle
                energy.append(chunk.energy.clone())
                lengths.extend(chunk.lengths)
                skipped.extend(chunk.skipped)
                bar.update(len(chunk.paths) + len(chunk.skipped))
        if not lengths:
            return torch.zeros(0), torch.zeros(0), torch.zeros(0, dtype=torch.long), skipped
        return torch.cat(frames), torch.cat(energy), torch.tensor(lengths), skipped

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Draw the windows of `epoch` (with `shuffle`; set before iterating, data workers get a copy)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> tp.Tuple[torch.Tensor, MelWindow]:
        rng = item_generator(self.seed, self.epoch if self.shuffle else None, index)
        if self.num_samples == len(self.paths) and not self.shuffle:
            clip = index
        else:
            clip = int(torch.multinomial(self.weights, 1, generator=rng))
        start, end = int(self.offsets[clip]), int(self.offsets[clip + 1])
        offset = int(torch.randint(0, max(1, end - start - self.window_frames + 1), (1,), generator=rng))
        window = slice(start + offset, min(end, start + offset + self.window_frames))
        frames = self.frames[window].float()
        rms = float(self.energy[window].mean().sqrt())
        if frames.shape[0] < self.window_frames:  # a short clip: pad with its quietest level, as silence
            frames = torch.nn.functional.pad(frames, (0, 0, 0, self.window_frames - frames.shape[0]),
                                             value=float(frames.min()))
        captions = sidecar_captions(self.paths[clip])
        return frames, MelWindow(self.paths[clip], captions[0] if captions else None, rms)

    @staticmethod
    def collate(items: tp.Sequence[tp.Tuple[torch.Tensor, MelWindow]]) -> tp.Tuple[torch.Tensor, tp.List[MelWindow]]:
        """Batch items: frames [B, window_frames, n_mels] and their `MelWindow`s."""
        return torch.stack([frames for frames, _ in items]), [info for _, info in items]


class _Chunk(tp.NamedTuple):
    paths: tp.List[str]  # the clips read, in manifest order
    frames: torch.Tensor  # float16 [their frames, n_bins], clip after clip
    energy: torch.Tensor  # mean square of the audio under each frame
    lengths: tp.List[int]  # frames per clip
    skipped: tp.List[str]  # why the other clips could not be read


class _ClipFrames(torch.utils.data.Dataset):
    """Chunk i of a list of manifest entries -> the log-mel frames of its clips (a `_Chunk`)."""

    def __init__(self, entries: tp.Sequence[tp.Any], frontend: tp.Any, chunk_size: int):
        self.entries = list(entries)
        self.frontend = frontend
        self.chunk_size = max(1, int(chunk_size))

    def __len__(self) -> int:
        return -(-len(self.entries) // self.chunk_size)

    def __getitem__(self, index: int) -> _Chunk:
        from audiocraft.data.audio_utils import convert_audio
        sample_rate, hop = int(self.frontend.sample_rate), int(self.frontend.hop_length)
        wavs: tp.List[tp.Tuple[str, torch.Tensor]] = []
        skipped: tp.List[str] = []
        for entry in self.entries[index * self.chunk_size:(index + 1) * self.chunk_size]:
            try:
                wav, sr = read_clip(entry.path)
            except BeatLMError as exc:
                skipped.append(str(exc))
                continue
            if wav.shape[-1] == 0:
                skipped.append(f"{entry.path} is empty")
                continue
            wavs.append((str(entry.path), convert_audio(wav.float(), sr, sample_rate, 1)[0]))
        by_length: tp.Dict[int, tp.List[int]] = {}  # clips of one length go through the front-end together
        for i, (_, wav) in enumerate(wavs):
            by_length.setdefault(wav.shape[-1], []).append(i)
        results: tp.Dict[int, tp.Tuple[torch.Tensor, torch.Tensor]] = {}
        with torch.no_grad():
            for group in by_length.values():
                wav = torch.stack([wavs[i][1] for i in group])
                mels = self.frontend(wav)  # [B, F, n_bins]
                count = mels.shape[1]
                padded = torch.nn.functional.pad(wav, (0, max(0, count * hop - wav.shape[-1])))
                power = padded[:, :count * hop].reshape(len(group), count, hop).pow(2).mean(dim=-1)
                for i, mel, pw in zip(group, mels, power):
                    results[i] = (mel.to(torch.float16), pw)
        ordered = [results[i] for i in range(len(wavs))]
        empty = torch.zeros(0, int(self.frontend.n_bins), dtype=torch.float16)
        return _Chunk([path for path, _ in wavs], torch.cat([m for m, _ in ordered]) if ordered else empty,
                      torch.cat([p for _, p in ordered]) if ordered else torch.zeros(0),
                      [m.shape[0] for m, _ in ordered], skipped)
