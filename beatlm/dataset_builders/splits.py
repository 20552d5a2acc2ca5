"""Train / valid / test manifests split by source video, with a stats summary and a dset YAML.

Every clip is assigned the split of its *source* (the video or URL it was cut from, read from its
sidecar), so no video has clips in two splits. A source's split is a hash of its id placed on the
cumulative split fractions: deterministic, independent of the order of files, and stable when the
data set grows (adding videos never moves a clip). When a split with a non-zero fraction ends up
empty, the source hashed nearest to it is moved there (a whole source, so still no leak).

Clips flagged for residual vocals (`beatlm.vocals.flagged` in the sidecar, set by `separate` and
`segment`) are left out unless `include_flagged`.
"""

from collections import Counter
import hashlib
import json
from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path
from .step_utils import StepSummary, read_sidecar, scan_media, write_json_atomic

SPLITS = ("train", "valid", "test")
MANIFEST_EXTS = frozenset({".wav", ".flac", ".ogg", ".mp3"})
# Sidecar keys that identify the source video, most specific first (fetch's, yt-dlp's, MusicInfo-like).
SOURCE_KEYS = ("source_id", "video_id", "source_url", "webpage_url", "original_url", "url", "id")


def parse_splits(text: str) -> tp.Tuple[float, float, float]:
    """`0.9,0.05,0.05` -> fractions of train, valid, test (must be >= 0 and sum to 1)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6 or values[0] <= 0:
        raise BeatLMError(f"--splits must be three fractions for train,valid,test that sum to 1 with train > 0 "
                          f"(got {text!r}; e.g. 0.9,0.05,0.05)")
    return values  # type: ignore[return-value]


def source_id(info: tp.Dict[str, tp.Any], fallback: str) -> str:
    """The id of the video a clip comes from, from its sidecar; `fallback` when the sidecar names none.

    Looks at `source` (a string, or a dict with `id` / `url`), then the keys of `SOURCE_KEYS`, then the
    track the `segment` step cut the clip from, then the input of the `separate` step.
    """
    source = info.get("source")
    if isinstance(source, dict):
        for key in ("id", "url", "webpage_url"):
            if source.get(key):
                return str(source[key])
    elif isinstance(source, str) and source:
        return source
    for key in SOURCE_KEYS:
        if info.get(key):
            return str(info[key])
    extra = info.get("beatlm") or {}
    for step, key in (("separation", "input"), ("segment", "source_file")):
        value = (extra.get(step) or {}).get(key)
        if value:
            return str(Path(value).with_suffix(""))
    return fallback


def hash_position(source: str) -> float:
    """A uniform number in [0, 1) fixed by the source id."""
    return int(hashlib.sha256(source.encode("utf-8")).hexdigest()[:15], 16) / 16 ** 15


def assign_splits(sources: tp.Iterable[str], fractions: tp.Sequence[float]) -> tp.Dict[str, str]:
    """Split of every source: its hash position on the cumulative fractions, then empty splits filled.

    Args:
        sources: Source ids (duplicates ignored).
        fractions: Fractions of train, valid, test.
    """
    bounds, edge = [], 0.0
    for fraction in fractions:
        bounds.append((edge, edge + fraction))
        edge += fraction
    positions = {source: hash_position(source) for source in set(sources)}
    result = {}
    for source, pos in positions.items():
        result[source] = next((name for name, (lo, hi) in zip(SPLITS, bounds) if lo <= pos < hi), "train")
    for name, (lo, hi), fraction in zip(SPLITS, bounds, fractions):
        counts = Counter(result.values())
        if fraction <= 0 or counts[name]:
            continue
        centre = (lo + hi) / 2
        donors = [s for s in positions if counts[result[s]] > 1]
        if donors:
            result[min(donors, key=lambda s: (abs(positions[s] - centre), s))] = name
    return result


def write_file_manifest(entries: tp.Sequence[tp.Tuple[Path, float, int]], out_dir: Path) -> Path:
    """Write `out_dir/data.jsonl.gz` for exactly these (path, seconds, rate), atomically.

    The lines are audiocraft's `AudioMeta.to_dict()` (read back by `audiocraft.data.audio_dataset.load_audio_meta`),
    written here without importing audiocraft, whose import alone takes many seconds.
    """
    import gzip
    target = out_dir / "data.jsonl.gz"
    with atomic_path(target, overwrite=True) as tmp:
        with gzip.open(tmp, "wt", encoding="utf-8") as file:
            for path, duration, rate in entries:
                file.write(json.dumps({"path": str(path.resolve()), "duration": duration, "sample_rate": rate,
                                       "amplitude": None, "weight": None, "info_path": None}) + "\n")
    return target


def dset_yaml(egs: Path, sample_rate: int, channels: int, filled: tp.Dict[str, str], origin: Path) -> str:
    """Text of the `dset` config pointing a solver at the manifests (an empty split borrows another's)."""
    egs = egs.resolve()
    return ("# @package __global__\n"
            f"# Written by `beatlm data manifest` for the clips in {origin.resolve()}\n"
            "datasource:\n"
            f"  max_sample_rate: {sample_rate}\n"
            f"  max_channels: {channels}\n"
            f"  train: {egs / filled['train']}\n"
            f"  valid: {egs / filled['valid']}\n"
            f"  evaluate: {egs / filled['test']}\n"
            f"  generate: {egs / filled['test']}\n")


def write_dset(text: str, config_dir: Path, name: str) -> Path:
    """Write `<config_dir>/dset/audio/<name>.yaml`; refuses to replace one written for other clips."""
    target = config_dir / "dset" / "audio" / f"{name}.yaml"
    if target.exists():
        old, new = target.read_text().splitlines(), text.splitlines()
        if old[:2] != new[:2]:
            raise BeatLMError(f"{target} already exists for other data; pass --dset-name NAME to pick another name "
                              "(or delete that file)")
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_text(text)
    return target


def _stats(rows: tp.List[tp.Dict[str, tp.Any]]) -> tp.Dict[str, tp.Any]:
    import numpy as np
    bpms = [r["bpm"] for r in rows if isinstance(r["bpm"], (int, float)) and r["bpm"] > 0]
    ratios = [r["speech"] for r in rows if r["speech"] is not None]
    return {"clips": len(rows), "sources": len({r["source"] for r in rows}),
            "hours": round(sum(r["duration"] for r in rows) / 3600, 4),
            "bpm": ({"mean": round(float(np.mean(bpms)), 1), "min": round(min(bpms), 1), "max": round(max(bpms), 1)}
                    if bpms else None),
            "keys": dict(Counter(r["key"] for r in rows if r["key"]).most_common(5)),
            "speech_ratio_mean": round(float(np.mean(ratios)), 4) if ratios else None}


def build_manifests(root: tp.Union[str, Path], out: tp.Union[str, Path],
                    fractions: tp.Sequence[float] = (0.9, 0.05, 0.05), include_flagged: bool = False,
                    config_dir: tp.Optional[Path] = None,
                    dset_name: tp.Optional[str] = None) -> StepSummary:
    """Write `out/<split>/data.jsonl.gz`, `out/splits.json` (source -> split), `out/stats.json`, and a dset YAML.

    Args:
        root: Folder of clips with sidecars (the output of `segment`).
        out: Folder of the manifests.
        fractions: Fractions of train, valid, test.
        include_flagged: Keep clips flagged for residual vocals.
        config_dir: Where the dset YAML goes (`dset/audio/<name>.yaml`); None: no dset YAML.
        dset_name: Its name (default: the folder name of `root`).
    """
    import soundfile as sf
    root, out = Path(root), Path(out)
    clips, unsupported = scan_media(root, MANIFEST_EXTS)
    summary = StepSummary("manifest", unsupported=[str(p) for p in unsupported])
    if not clips:
        raise BeatLMError(f"no audio clip under {root}")
    rows, flagged, no_sidecar = [], 0, 0
    for clip in clips:
        try:
            info = sf.info(str(clip))
            duration, channels, rate = float(info.duration), int(info.channels), int(info.samplerate)
            if duration <= 0:
                raise ValueError("no audio")
        except Exception as exc:
            summary.fail(clip, f"unreadable ({type(exc).__name__})")
            continue
        sidecar = read_sidecar(clip)
        no_sidecar += int(not sidecar)
        vocals = (sidecar.get("beatlm") or {}).get("vocals") or {}
        if vocals.get("flagged") and not include_flagged:
            flagged += 1
            continue
        rows.append({"path": clip, "source": source_id(sidecar, str(clip.parent.relative_to(root))),
                     "duration": duration, "channels": channels, "rate": rate, "bpm": sidecar.get("bpm"),
                     "key": sidecar.get("key"), "speech": vocals.get("speech_ratio")})
    if not rows:
        raise BeatLMError(f"no clip of {root} is left for the manifests ({flagged} flagged for residual vocals: "
                          "--include-flagged keeps them)")
    split_of = assign_splits([r["source"] for r in rows], fractions)
    by_split = {name: [r for r in rows if split_of[r["source"]] == name] for name in SPLITS}
    for name in SPLITS:
        if by_split[name]:
            write_file_manifest([(r["path"], r["duration"], r["rate"]) for r in by_split[name]], out / name)
        else:
            (out / name / "data.jsonl.gz").unlink(missing_ok=True)
    filled = {name: name if by_split[name] else next(n for n in ("valid", "test", "train") if by_split[n])
              for name in SPLITS}
    stats = {"root": str(root.resolve()), "fractions": list(fractions), "include_flagged": include_flagged,
             "flagged_excluded": flagged, "without_sidecar": no_sidecar, "failed": len(summary.failed),
             "total": _stats(rows), "splits": {name: _stats(by_split[name]) for name in SPLITS},
             "empty_splits_use": {k: v for k, v in filled.items() if k != v}}
    if config_dir is not None:
        text = dset_yaml(out, max(r["rate"] for r in rows), max(r["channels"] for r in rows), filled, root)
        stats["dset"] = str(write_dset(text, Path(config_dir), dset_name or root.resolve().name))
    write_json_atomic(out / "splits.json", dict(sorted(split_of.items())))
    write_json_atomic(out / "stats.json", stats)
    summary.done = len(rows)
    summary.extra.update(sources=len(split_of), flagged_excluded=flagged, without_sidecar=no_sidecar)
    summary.extra["stats"] = stats
    return summary


def format_stats(stats: tp.Dict[str, tp.Any]) -> str:
    """A few lines: clips, sources and hours per split, tempo range, frequent keys."""
    lines = []
    for name in SPLITS:
        s = stats["splits"][name]
        bpm = f", bpm {s['bpm']['min']}-{s['bpm']['max']} (mean {s['bpm']['mean']})" if s["bpm"] else ""
        lines.append(f"  {name:5s}: {s['clips']} clips from {s['sources']} sources, {s['hours']:.2f} h{bpm}")
    keys = ", ".join(f"{k} {v}" for k, v in stats["total"]["keys"].items())
    if keys:
        lines.append(f"  frequent keys: {keys}")
    if stats["empty_splits_use"]:
        lines.append("  empty splits (too few sources): the dset uses " + ", ".join(
            f"{k} -> {v}" for k, v in stats["empty_splits_use"].items()))
    if stats.get("dset"):
        lines.append(f"  dset: {stats['dset']}")
    return "\n".join(lines)


def read_manifest(path: tp.Union[str, Path]) -> tp.List[tp.Dict[str, tp.Any]]:
    """The entries of a `data.jsonl.gz` (for tests and checks)."""
    import gzip
    with gzip.open(path, "rt") as file:
        return [json.loads(line) for line in file if line.strip()]
