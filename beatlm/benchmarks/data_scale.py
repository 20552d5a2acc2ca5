"""Data at scale: how long a manifest of N entries takes to load and check, and a token cache of N clips
to open and read, with how much memory (`beatlm bench data`).

Everything is synthetic and local: N manifest entries are symbolic links to one short WAV (so the file
checks open real files), and the token cache is N clips of random tokens written in the cache's own
shard format, as a finished build leaves it.
"""

import gzip
import json
import os
from pathlib import Path
import resource
import time
import typing as tp

import numpy as np
import torch

from ..data.token_cache import FORMAT_VERSION, META_NAME, SHARD_SIZE, TokenCache

SAMPLE_RATE = 32000


def _rss_mb() -> float:
    """Resident memory of this process now (MB), from /proc (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def write_manifest(folder: Path, entries: int, seconds: float = 0.1, per_folder: int = 1000) -> Path:
    """`folder/egs/data.jsonl.gz` listing `entries` symbolic links to one WAV of `seconds`, `per_folder` per folder."""
    import soundfile
    audio = folder / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    source = audio / "source.wav"
    soundfile.write(source, np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32), SAMPLE_RATE)
    manifest = folder / "egs" / "data.jsonl.gz"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(manifest, "wt") as out:
        for index in range(entries):
            sub = audio / f"{index // per_folder:04d}"
            if index % per_folder == 0:
                sub.mkdir(exist_ok=True)
            path = sub / f"clip_{index:07d}.wav"
            if not path.exists():
                os.symlink(source, path)
            out.write(json.dumps({"path": str(path), "duration": seconds, "sample_rate": SAMPLE_RATE,
                                  "amplitude": None, "weight": None, "info_path": None}) + "\n")
    return manifest


def write_token_cache(folder: Path, clips: int, seconds: float = 10.0, codebooks: int = 4,
                      shard_size: int = SHARD_SIZE, seed: int = 0) -> Path:
    """A finished token cache of `clips` clips of random tokens (codec 50 Hz, semantic 25 Hz, MuLaN 12 levels)."""
    rng = torch.Generator().manual_seed(seed)
    codes_frames, semantic_frames = int(seconds * 50), int(seconds * 25)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number, first in enumerate(range(0, clips, shard_size)):
        count = min(shard_size, clips - first)
        shard = {"indices": list(range(first, first + count)),
                 "paths": [f"/synthetic/clip_{i:07d}.wav" for i in range(first, first + count)],
                 "durations": [seconds] * count, "skipped": [],
                 "codes": torch.randint(0, 1024, (codebooks, count * codes_frames), generator=rng, dtype=torch.int16),
                 "codes_lengths": torch.full((count,), codes_frames, dtype=torch.long),
                 "semantic": torch.randint(0, 500, (count * semantic_frames,), generator=rng, dtype=torch.int16),
                 "semantic_lengths": torch.full((count,), semantic_frames, dtype=torch.long),
                 "mulan": torch.randint(0, 1024, (count, 12), generator=rng, dtype=torch.int16)}
        names.append(f"shard_{number:05d}.th")
        torch.save(shard, folder / names[-1])
    info = {"signature": "synthetic"}
    meta = {"format": FORMAT_VERSION, "key": "synthetic", "manifest": "synthetic", "manifest_hash": "synthetic",
            "codec": dict(info, sample_rate=SAMPLE_RATE, channels=1, frame_rate=50.0, num_codebooks=codebooks,
                          cardinality=1024),
            "semantic": dict(info, frame_rate=25.0, cardinality=500),
            "mulan": dict(info, sample_rate=SAMPLE_RATE, window=10.0, levels=12, bins=1024),
            "num_clips": clips, "num_skipped": 0, "skipped": [], "duration": clips * seconds,
            "shard_size": shard_size, "shards": names}
    (folder / META_NAME).write_text(json.dumps(meta))
    return folder


def _timed(fn: tp.Callable[[], tp.Any], log: tp.Optional[tp.Callable[[str], None]] = None,
           name: str = "", cpu: tp.Optional[tp.Dict[str, float]] = None) -> tp.Tuple[float, tp.Any]:
    """(wall seconds, result) of `fn()`; the process's CPU seconds go to `cpu[name]` (on a shared machine the
    wall time also counts the waits for a core)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    if cpu is not None:
        cpu[name] = cpu_seconds
    if log is not None:
        log(f"{name}: {seconds:.2f} (cpu {cpu_seconds:.2f})")
    return seconds, out


def bench_manifest(folder: Path, entries: int, check_files: bool = True,
                   log: tp.Callable[[str], None] = print) -> tp.Dict[str, float]:
    """Seconds to load a manifest of `entries` lines the ways BeatLM and audiocraft do, and to check its files."""
    from .. import bends
    bends.apply()  # audiocraft's datasets read its team settings
    from audiocraft.data.audio_dataset import AudioDataset, load_audio_meta
    from audiocraft.data.music_dataset import MusicDataset

    from ..data.checks import check_manifest, manifest_digest
    from ..data.clips import manifest_entries
    seconds, manifest = _timed(lambda: write_manifest(folder, entries))
    log(f"manifest of {entries} entries written in {seconds:.1f} s")
    out = {"entries": float(entries)}
    steps = {
        "load_audio_meta_s": lambda: load_audio_meta(manifest),
        "manifest_entries_s": lambda: manifest_entries([manifest]),
        "audio_dataset_s": lambda: AudioDataset.from_meta(manifest.parent, segment_duration=0.1, num_samples=1000,
                                                          min_audio_duration=0.05),
        "music_dataset_s": lambda: MusicDataset.from_meta(manifest.parent, segment_duration=0.1, num_samples=1000,
                                                          min_audio_duration=0.05, return_info=True,
                                                          info_fields_required=False),
        "manifest_digest_s": lambda: manifest_digest(manifest, load_audio_meta(manifest)),
    }
    if check_files:
        record = manifest.with_name(manifest.name + ".checked")
        record.unlink(missing_ok=True)  # a first check opens every file; the second finds it remembered
        steps["check_files_s"] = lambda: check_manifest(manifest.parent)
        steps["check_files_again_s"] = lambda: check_manifest(manifest.parent)
    cpu: tp.Dict[str, float] = {}
    for name, step in steps.items():
        out[name], _ = _timed(step, log, name, cpu)
    out.update({f"{name[:-2]}_cpu_s": seconds for name, seconds in cpu.items()})
    return out


def bench_token_cache(folder: Path, clips: int, reads: int = 2000, max_shards_in_memory: int = 8,
                      log: tp.Callable[[str], None] = print) -> tp.Dict[str, float]:
    """Seconds to open a token cache of `clips` 10 s clips and per random read, and the memory it took."""
    seconds, path = _timed(lambda: write_token_cache(folder, clips))
    size_mb = sum(p.stat().st_size for p in path.glob("shard_*.th")) / 1e6
    log(f"token cache of {clips} clips written in {seconds:.1f} s ({size_mb:.0f} MB on disk)")
    before = _rss_mb()
    out = {"clips": float(clips), "cache_mb_on_disk": size_mb}
    cpu: tp.Dict[str, float] = {}
    out["open_s"], cache = _timed(lambda: TokenCache.open(path, max_shards_in_memory=max_shards_in_memory),
                                  cpu=cpu, name="open")
    out["open_cpu_s"] = cpu["open"]
    out["rss_after_open_mb"] = _rss_mb() - before
    order = torch.randint(0, len(cache), (reads,), generator=torch.Generator().manual_seed(0)).tolist()
    elapsed, _ = _timed(lambda: [cache[i]["codes"].sum() for i in order], cpu=cpu, name="reads")
    out["random_read_ms"] = 1000 * elapsed / reads
    out["random_read_cpu_ms"] = 1000 * cpu["reads"] / reads
    out["rss_after_reads_mb"] = _rss_mb() - before
    out["shards_in_memory"] = float(cache.shards_in_memory)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    for key, value in out.items():
        log(f"{key}: {value:.2f}")
    return out
