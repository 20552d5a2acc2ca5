"""Token cache: a manifest tokenised once (codec codes, semantic tokens, MuLaN tokens), reused across runs.

Stage solvers train on tokens, never on audio: running the codec encoder at every step would cost
more than the language model. `TokenCache.build_or_load` encodes every clip of an audiocraft
manifest once and stores the tokens under `root/<key>/`, where the key is a hash of the manifest
(its content and the size and modification time of every file it lists), of the signature of each
tokenizer and of the cache format. Changing a tokenizer (retraining it, refitting a quantizer,
another codebook count) therefore gives a new key and a new cache; the same ones reuse it.

Layout of `root/<key>/`:

    build.json          what is being built (written first: lets an interrupted build resume)
    shard_00000.th ...  `shard_size` clips each, written atomically (load with `load_checkpoint`)
    meta.json           written last, once every shard exists: signatures, rates, counts

Tokenizers are duck-typed:

- codec: an audiocraft `CompressionModel` (`encode(wav) -> (codes [B, K, T], scale)`, `sample_rate`,
  `channels`, `frame_rate`, `num_codebooks`, `cardinality`); required.
- semantic: `encode(wav [B, C, T], sample_rate) -> [B, frames]`, `frame_rate`, `cardinality`,
  `signature() -> str`; optional.
- MuLaN: `beatlm.models.mulan.MuLaNModel` (`embed_audio`, `tokens`, `quantizer.levels/bins`); optional.
"""

import collections
import contextlib
import hashlib
import json
import logging
from pathlib import Path
import time
import typing as tp

import torch
from torch import nn

from ..utils.checkpoint import load_checkpoint
from ..utils.errors import BeatLMError
from ..utils.files import atomic_path
from ..utils.signature import state_signature
from .checks import manifest_digest, manifest_file
from .clips import manifest_entries

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_NAME = "meta.json"
BUILD_NAME = "build.json"
SHARD_SIZE = 256
MAX_SHARDS_IN_MEMORY = 64
KINDS = ("codec", "semantic", "mulan")


def codec_info(codec: tp.Any) -> tp.Dict[str, tp.Any]:
    """Signature and settings of an audiocraft `CompressionModel` (what a cache is keyed on)."""
    info = {"sample_rate": int(codec.sample_rate), "channels": int(codec.channels),
            "frame_rate": float(codec.frame_rate), "num_codebooks": int(codec.num_codebooks),
            "cardinality": int(codec.cardinality)}
    return {"signature": state_signature(codec, extra=dict(info, cls=type(codec).__name__)), **info}


def semantic_info(semantic: tp.Any) -> tp.Dict[str, tp.Any]:
    """Signature and settings of a semantic tokenizer (its own `signature()`, frame rate, cardinality)."""
    return {"signature": str(semantic.signature()), "frame_rate": float(semantic.frame_rate),
            "cardinality": int(semantic.cardinality)}


def mulan_info(mulan: tp.Any) -> tp.Dict[str, tp.Any]:
    """Signature and settings of a `MuLaNModel` (its whole state, quantizer included)."""
    info = {"sample_rate": int(mulan.sample_rate), "window": float(mulan.window),
            "levels": int(mulan.quantizer.levels), "bins": int(mulan.quantizer.bins)}
    return {"signature": state_signature(mulan, extra=info), **info}


def describe(kind: str, info: tp.Mapping[str, tp.Any]) -> str:
    """A tokenizer's signature and settings in words, e.g. `1f2e... (4 codebooks x 1024, 50 Hz frames, ...)`."""
    if kind == "codec":
        details = (f"{info['num_codebooks']} codebooks x {info['cardinality']}, {info['frame_rate']:g} Hz frames, "
                   f"{info['sample_rate']} Hz {info['channels']}-channel audio")
    elif kind == "semantic":
        details = f"{info['cardinality']} tokens, {info['frame_rate']:g} Hz frames"
    else:
        details = f"{info['levels']} levels x {info['bins']} bins"
    return f"{info['signature']} ({details})"


def _token_dtype(cardinality: int) -> torch.dtype:
    return torch.int16 if cardinality <= torch.iinfo(torch.int16).max else torch.int32


@contextlib.contextmanager
def _eval_mode(*models: tp.Any) -> tp.Iterator[None]:
    """Put the given modules in eval mode (no dropout, no augmentation), restoring their modes after."""
    modules = [sub for model in models if isinstance(model, nn.Module) for sub in model.modules()]
    training = [module.training for module in modules]
    for module in modules:
        module.training = False
    try:
        yield
    finally:
        for module, mode in zip(modules, training):
            module.training = mode


def _write_json(path: Path, data: tp.Mapping[str, tp.Any]) -> None:
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


class TokenCache:
    """Tokens of every readable clip of one manifest, read from a cache folder shard by shard.

    Use `TokenCache.build_or_load` to get the cache of a manifest for given tokenizers (built when
    missing, resumed when interrupted), or `TokenCache.open` on an existing cache folder.
    `cache[i]` is a dict: `codes` [K, Tc], `semantic` [Ts] (when built with a semantic tokenizer),
    `mulan` [levels] (when built with MuLaN), all long tensors, and `meta` (path, duration, index of
    the clip in the manifest).

    Opening a cache reads each shard's clip list and lengths once; tokens stay on disk, memory-mapped,
    and at most `max_shards_in_memory` shards are held at a time (the least recently used is dropped),
    so a corpus larger than memory can be read. Data workers each hold their own shards.

    Args:
        path: The cache folder (`root/<key>`), complete.
        max_shards_in_memory: Shards held open at once (at least 1).
    """

    def __init__(self, path: tp.Union[str, Path], max_shards_in_memory: int = MAX_SHARDS_IN_MEMORY):
        self.path = Path(path)
        if max_shards_in_memory < 1:
            raise BeatLMError(f"max_shards_in_memory must be at least 1, not {max_shards_in_memory}")
        self.max_shards_in_memory = int(max_shards_in_memory)
        meta_path = self.path / META_NAME
        if not meta_path.is_file():
            raise BeatLMError(f"{self.path} is not a complete token cache (no {META_NAME}); build it with "
                              "TokenCache.build_or_load, which resumes an interrupted build")
        self.meta: tp.Dict[str, tp.Any] = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT_VERSION:
            raise BeatLMError(f"token cache {self.path} has format {self.meta.get('format')}, this BeatLM reads "
                              f"format {FORMAT_VERSION}: delete it and build it again")
        self.clip_metadata: tp.List[tp.Dict[str, tp.Any]] = []
        shard_of, row_of, codes_lengths, semantic_lengths, mulan = [], [], [], [], []
        self._offsets: tp.List[tp.Dict[str, torch.Tensor]] = []  # per shard: where each clip's tokens start
        for number, name in enumerate(self.meta["shards"]):
            shard = _load_shard(self.path / name)
            self.clip_metadata += [{"path": p, "duration": d, "index": i}
                                   for p, d, i in zip(shard["paths"], shard["durations"], shard["indices"])]
            count = len(shard["indices"])
            shard_of.append(torch.full((count,), number, dtype=torch.int32))
            row_of.append(torch.arange(count, dtype=torch.int32))
            offsets = {"codes": _starts(shard["codes_lengths"])}
            codes_lengths.append(shard["codes_lengths"])
            if self.has_semantic:
                offsets["semantic"] = _starts(shard["semantic_lengths"])
                semantic_lengths.append(shard["semantic_lengths"])
            if self.has_mulan:
                mulan.append(shard["mulan"].clone())  # a few bytes per clip: kept in memory
            self._offsets.append(offsets)
        self._shard_of, self._row_of = torch.cat(shard_of), torch.cat(row_of)
        self._codes_lengths = torch.cat(codes_lengths)
        self._semantic_lengths = torch.cat(semantic_lengths) if self.has_semantic else None
        self._mulan = torch.cat(mulan) if self.has_mulan else None
        self._held: "collections.OrderedDict[int, tp.Dict[str, tp.Any]]" = collections.OrderedDict()
        self.shard_loads = 0  # shards read from disk so far (a measure of the access pattern's cost)

    def _shard(self, number: int) -> tp.Dict[str, tp.Any]:
        """Shard `number`, memory-mapped; keeps at most `max_shards_in_memory` of them."""
        shard = self._held.get(number)
        if shard is not None:
            self._held.move_to_end(number)
            return shard
        while len(self._held) >= self.max_shards_in_memory:
            self._held.popitem(last=False)
        shard = _load_shard(self.path / self.meta["shards"][number])
        self.shard_loads += 1
        self._held[number] = shard
        return shard

    @property
    def shards_in_memory(self) -> int:
        """Shards held right now (never more than `max_shards_in_memory`)."""
        return len(self._held)

    def __getstate__(self) -> tp.Dict[str, tp.Any]:
        # Data workers start with no shard held (memory maps are not shared through pickling).
        state = dict(self.__dict__)
        state["_held"] = collections.OrderedDict()
        return state

    @classmethod
    def open(cls, path: tp.Union[str, Path], max_shards_in_memory: int = MAX_SHARDS_IN_MEMORY) -> "TokenCache":
        """Open an existing, complete cache folder (`root/<key>`)."""
        return cls(path, max_shards_in_memory)

    @staticmethod
    def key(manifest: tp.Union[str, Path], codec: tp.Any, semantic: tp.Any = None,
            mulan: tp.Any = None) -> str:
        """The cache key of a manifest and tokenizers (the folder name under the cache root)."""
        return _plan(manifest, codec, semantic, mulan)["key"]

    @classmethod
    def build_or_load(cls, manifest: tp.Union[str, Path], root: tp.Union[str, Path], codec: tp.Any,
                      semantic: tp.Any = None, mulan: tp.Any = None, batch_size: int = 16,
                      device: tp.Union[str, torch.device, None] = None, shard_size: int = SHARD_SIZE,
                      progress: bool = True, max_shards_in_memory: int = MAX_SHARDS_IN_MEMORY,
                      wait: bool = False) -> "TokenCache":
        """The token cache of `manifest` for these tokenizers: reused if it exists, else built (or resumed).

        Args:
            manifest: Manifest file or the folder holding `data.jsonl[.gz]`.
            root: Folder holding caches; this one goes to `root/<key>`.
            codec: The codec (required); its codes are stored for every clip.
            semantic: Semantic tokenizer, or None to store no semantic tokens.
            mulan: MuLaN model with a fitted quantizer, or None to store no MuLaN tokens.
            batch_size: Clips of equal length encoded together.
            device: Where audio is sent for encoding (the tokenizers must already be there);
                default the codec's device.
            shard_size: Clips per shard file (a new build only; a resumed build keeps its own).
            progress: Show a progress bar.
            max_shards_in_memory: Shards held at once when reading (see `TokenCache`).
            wait: Do not build: wait until another process (rank 0 of a multi-process run) has built it.
        Returns:
            The opened cache.
        """
        plan = _plan(manifest, codec, semantic, mulan)
        path = Path(root) / plan["key"]
        if wait:
            _wait_for(path / META_NAME)
        if (path / META_NAME).is_file():
            logger.info("reusing token cache %s of %s", path, plan["manifest"])
            return cls(path, max_shards_in_memory)
        if device is None:
            tensors = list(codec.parameters()) + list(codec.buffers()) if isinstance(codec, nn.Module) else []
            device = tensors[0].device if tensors else "cpu"
        _build(path, plan, codec, semantic, mulan, batch_size=batch_size, device=torch.device(device),
               shard_size=shard_size, progress=progress)
        return cls(path, max_shards_in_memory)

    def __len__(self) -> int:
        return len(self.clip_metadata)

    def __getitem__(self, index: int) -> tp.Dict[str, tp.Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip {index} out of range for a token cache of {len(self)} clips")
        index = index % len(self)
        number, row = int(self._shard_of[index]), int(self._row_of[index])
        shard, offsets = self._shard(number), self._offsets[number]
        start, length = int(offsets["codes"][row]), int(self._codes_lengths[index])
        item: tp.Dict[str, tp.Any] = {"codes": shard["codes"][:, start:start + length].long()}
        if self._semantic_lengths is not None:
            start, length = int(offsets["semantic"][row]), int(self._semantic_lengths[index])
            item["semantic"] = shard["semantic"][start:start + length].long()
        if self._mulan is not None:
            item["mulan"] = self._mulan[index].long()
        item["meta"] = dict(self.clip_metadata[index])
        return item

    def __repr__(self) -> str:
        parts = [kind for kind in KINDS if self.meta.get(kind)]
        return f"TokenCache({self.path}, {len(self)} clips, {'+'.join(parts)})"

    @property
    def has_semantic(self) -> bool:
        return self.meta.get("semantic") is not None

    @property
    def has_mulan(self) -> bool:
        return self.meta.get("mulan") is not None

    @property
    def sample_rate(self) -> int:
        """Sample rate of the audio the tokens were made from (the codec's)."""
        return self.meta["codec"]["sample_rate"]

    @property
    def codec_frame_rate(self) -> float:
        return self.meta["codec"]["frame_rate"]

    @property
    def semantic_frame_rate(self) -> tp.Optional[float]:
        return self.meta["semantic"]["frame_rate"] if self.has_semantic else None

    @property
    def num_codebooks(self) -> int:
        return self.meta["codec"]["num_codebooks"]

    @property
    def codec_cardinality(self) -> int:
        return self.meta["codec"]["cardinality"]

    @property
    def semantic_cardinality(self) -> tp.Optional[int]:
        return self.meta["semantic"]["cardinality"] if self.has_semantic else None

    @property
    def mulan_levels(self) -> tp.Optional[int]:
        return self.meta["mulan"]["levels"] if self.has_mulan else None

    @property
    def mulan_bins(self) -> tp.Optional[int]:
        return self.meta["mulan"]["bins"] if self.has_mulan else None

    def codes_length(self, index: int) -> int:
        """Codec frames of clip `index` (without loading its tokens)."""
        return int(self._codes_lengths[index])

    def semantic_length(self, index: int) -> int:
        """Semantic frames of clip `index` (0 when the cache holds no semantic tokens)."""
        if self._semantic_lengths is None:
            return 0
        return int(self._semantic_lengths[index])

    def check_compatible(self, codec: tp.Any = None, semantic: tp.Any = None, mulan: tp.Any = None) -> None:
        """Check that the given tokenizers are the ones this cache was built with.

        Args:
            codec: The codec a solver decodes with, or None to skip the check.
            semantic: The semantic tokenizer, or None to skip the check.
            mulan: The MuLaN model, or None to skip the check.
        Raises:
            BeatLMError: one message naming every mismatch, each with both sides (the cache's and the
                given tokenizer's signature and settings), and what to do.
        """
        given = {"codec": (codec, codec_info), "semantic": (semantic, semantic_info), "mulan": (mulan, mulan_info)}
        problems = []
        for kind, (tokenizer, info_fn) in given.items():
            if tokenizer is None:
                continue
            info = info_fn(tokenizer)
            built = self.meta.get(kind)
            if built is None:
                problems.append(f"it was built without a {kind} tokenizer (it holds no {kind} tokens) but "
                                f"{kind} {describe(kind, info)} is given")
            elif built != info:
                problems.append(f"it was built with {kind} {describe(kind, built)} but the {kind} given is "
                                f"{describe(kind, info)}")
        if problems:
            raise BeatLMError(f"token cache {self.path} does not match the tokenizers given: {'; '.join(problems)}. "
                              f"Build the cache for these tokenizers (TokenCache.build_or_load writes it next to "
                              f"this one, under {self.path.parent}) or give the tokenizers it was built with")


def _plan(manifest: tp.Union[str, Path], codec: tp.Any, semantic: tp.Any, mulan: tp.Any) -> tp.Dict[str, tp.Any]:
    """Manifest entries, tokenizer infos and the cache key."""
    if codec is None:
        raise BeatLMError("a token cache needs a codec (its codes are what the stages model)")
    path = manifest_file(manifest)
    entries = manifest_entries([path])
    infos = {"codec": codec_info(codec),
             "semantic": semantic_info(semantic) if semantic is not None else None,
             "mulan": mulan_info(mulan) if mulan is not None else None}
    manifest_hash = manifest_digest(path, entries)
    payload = json.dumps({"format": FORMAT_VERSION, "manifest": manifest_hash, **infos}, sort_keys=True)
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return {"key": key, "manifest": str(path), "manifest_hash": manifest_hash, "entries": entries, **infos}


def _build(path: Path, plan: tp.Mapping[str, tp.Any], codec: tp.Any, semantic: tp.Any, mulan: tp.Any,
           batch_size: int, device: torch.device, shard_size: int, progress: bool) -> None:
    """Encode every shard not yet on disk, then write `meta.json`."""
    from tqdm import tqdm
    entries = plan["entries"]
    build_path = path / BUILD_NAME
    if build_path.is_file():
        shard_size = json.loads(build_path.read_text())["shard_size"]
    else:
        path.mkdir(parents=True, exist_ok=True)
        _write_json(build_path, {"format": FORMAT_VERSION, "key": plan["key"], "manifest": plan["manifest"],
                                 "num_entries": len(entries), "shard_size": shard_size})
    names = [f"shard_{i:05d}.th" for i in range((len(entries) + shard_size - 1) // shard_size)]
    done = [name for name in names if (path / name).is_file()]
    logger.info("%s token cache %s of %s (%d clips, %d of %d shards done)", "resuming" if done else "building",
                path, plan["manifest"], len(entries), len(done), len(names))
    bar = tqdm(total=len(entries), initial=min(len(done) * shard_size, len(entries)), unit="clip",
               desc="tokenising", disable=not progress)
    with bar, torch.no_grad(), _eval_mode(codec, semantic, mulan):
        for number, name in enumerate(names):
            if (path / name).is_file():
                continue
            indices = list(range(number * shard_size, min((number + 1) * shard_size, len(entries))))
            shard = _encode_shard(entries, indices, plan, codec, semantic, mulan, batch_size, device, bar)
            with atomic_path(path / name, overwrite=True) as tmp:
                torch.save(shard, tmp)
    skipped, num_clips, duration = [], 0, 0.0
    for name in names:  # one shard at a time, memory-mapped: the corpus need not fit in memory
        shard = _load_shard(path / name)
        skipped += shard["skipped"]
        num_clips += len(shard["indices"])
        duration += sum(shard["durations"])
    if skipped:
        _, clip, reason = skipped[0]
        logger.warning("token cache %s: skipped %d of %d clips that could not be read (first: %s: %s)",
                       path, len(skipped), len(entries), clip, reason)
    if not num_clips:
        raise BeatLMError(f"no clip of manifest {plan['manifest']} could be read (first: {skipped[0][1]}: "
                          f"{skipped[0][2]}); check the files it lists")
    meta = {"format": FORMAT_VERSION, "key": plan["key"], "manifest": plan["manifest"],
            "manifest_hash": plan["manifest_hash"], "codec": plan["codec"], "semantic": plan["semantic"],
            "mulan": plan["mulan"], "num_clips": num_clips, "num_skipped": len(skipped),
            "skipped": [{"path": clip, "reason": reason} for _, clip, reason in skipped[:100]],
            "duration": duration, "shard_size": shard_size,
            "shards": names}
    _write_json(path / META_NAME, meta)


def _load_shard(path: Path) -> tp.Dict[str, tp.Any]:
    """A shard file, its tensors memory-mapped (`weights_only`: shards hold tensors, lists and strings only)."""
    return load_checkpoint(path, mmap=True)


def _starts(lengths: torch.Tensor) -> torch.Tensor:
    """Where each of consecutive pieces of these lengths starts."""
    return torch.cat([torch.zeros(1, dtype=torch.long), lengths.long().cumsum(0)[:-1]])


def _wait_for(meta_path: Path, poll: float = 1.0, report_every: float = 60.0) -> None:
    """Wait until `meta_path` exists (another process builds the cache), saying so every minute."""
    start = last = time.monotonic()
    while not meta_path.is_file():
        if time.monotonic() - last >= report_every:
            last = time.monotonic()
            logger.info("waiting for rank 0 to build token cache %s (%.0f s so far)", meta_path.parent,
                        last - start)
        time.sleep(poll)


def _read(entry: tp.Any, sample_rate: int, channels: int) -> tp.Tuple[tp.Optional[torch.Tensor], str]:
    """A clip as [channels, T] at `sample_rate`, or (None, why it cannot be read)."""
    from audiocraft.data.audio import audio_read
    from audiocraft.data.audio_utils import convert_audio
    try:
        wav, sr = audio_read(entry.path)
    except Exception as exc:  # any decoder error: the clip is skipped and counted
        return None, f"{type(exc).__name__}: {exc}"
    if wav.shape[-1] == 0:
        return None, "empty (zero length)"
    return convert_audio(wav.float(), sr, sample_rate, channels), ""


def _encode_shard(entries: tp.Sequence[tp.Any], indices: tp.Sequence[int], plan: tp.Mapping[str, tp.Any],
                  codec: tp.Any, semantic: tp.Any, mulan: tp.Any, batch_size: int, device: torch.device,
                  bar: tp.Any) -> tp.Dict[str, tp.Any]:
    """Tokens of the clips `indices` of `entries`, encoded in batches of clips of equal length."""
    sample_rate, channels = plan["codec"]["sample_rate"], plan["codec"]["channels"]
    results: tp.Dict[int, tp.Dict[str, tp.Any]] = {}
    skipped = []
    order = sorted(indices, key=lambda i: entries[i].duration)  # similar lengths end up in the same batch
    for first in range(0, len(order), batch_size):
        groups: tp.Dict[int, tp.List[tp.Tuple[int, torch.Tensor]]] = {}
        for index in order[first:first + batch_size]:
            wav, reason = _read(entries[index], sample_rate, channels)
            if wav is None:
                skipped.append([index, entries[index].path, reason])
            else:
                groups.setdefault(wav.shape[-1], []).append((index, wav))
        for length, group in groups.items():
            wav = torch.stack([w for _, w in group]).to(device)
            codes = codec.encode(wav)[0].cpu()
            tokens = _semantic_tokens(semantic, wav, sample_rate) if semantic is not None else None
            mulan_tokens = mulan.tokens(mulan.embed_audio(wav, sample_rate)).cpu() if mulan is not None else None
            for row, (index, _) in enumerate(group):
                results[index] = {"codes": codes[row], "duration": length / sample_rate,
                                  "semantic": tokens[row] if tokens is not None else None,
                                  "mulan": mulan_tokens[row] if mulan_tokens is not None else None}
        bar.update(len(order[first:first + batch_size]))
    kept = [index for index in indices if index in results]
    shard: tp.Dict[str, tp.Any] = {
        "indices": kept, "paths": [entries[i].path for i in kept], "skipped": skipped,
        "durations": [results[i]["duration"] for i in kept]}
    codes_dtype = _token_dtype(plan["codec"]["cardinality"])
    shard.update(_flat([results[i]["codes"] for i in kept], plan["codec"]["num_codebooks"], codes_dtype, "codes"))
    if semantic is not None:
        shard.update(_flat([results[i]["semantic"] for i in kept], None,
                           _token_dtype(plan["semantic"]["cardinality"]), "semantic"))
    if mulan is not None:
        levels = plan["mulan"]["levels"]
        rows = [results[i]["mulan"] for i in kept]
        mulan_dtype = _token_dtype(plan["mulan"]["bins"])
        shard["mulan"] = (torch.stack(rows) if rows else torch.zeros(0, levels)).to(mulan_dtype)
    return shard


def _semantic_tokens(semantic: tp.Any, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    tokens = semantic.encode(wav, sample_rate)
    if tokens.dim() != 2 or tokens.shape[0] != wav.shape[0]:
        raise BeatLMError(f"the semantic tokenizer returned tokens of shape {tuple(tokens.shape)} for audio of "
                          f"shape {tuple(wav.shape)}; expected [batch, frames]")
    return tokens.cpu()


def _flat(tokens: tp.Sequence[torch.Tensor], rows: tp.Optional[int], dtype: torch.dtype,
          name: str) -> tp.Dict[str, torch.Tensor]:
    """Clips' tokens ([rows, T] or [T]) concatenated along time, with each clip's length."""
    empty = torch.zeros(0, dtype=dtype) if rows is None else torch.zeros(rows, 0, dtype=dtype)
    flat = torch.cat([t.to(dtype) for t in tokens], dim=-1) if tokens else empty
    return {name: flat, f"{name}_lengths": torch.tensor([t.shape[-1] for t in tokens], dtype=torch.long)}
