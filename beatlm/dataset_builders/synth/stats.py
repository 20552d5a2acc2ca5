"""`beatlm corpus stats`: distributions, per-file checks, tempo/key accuracy, speed, captions vs MusicCaps."""

import collections
import csv
import json
import multiprocessing as mp
from pathlib import Path
import re
import typing as tp

import numpy as np

from ...metrics import music
from ...utils.errors import BeatLMError
from . import analysis
from .corpus import CORPUS_FILE, SPLITS

WORD_RE = re.compile(r"[a-z0-9#'-]+")


def words(text: str) -> tp.List[str]:
    """Lower-case word tokens of a caption."""
    return WORD_RE.findall(text.lower())


def load_corpus(folder: tp.Union[str, Path]) -> tp.Tuple[tp.Dict[str, tp.Any], tp.List[tp.Tuple[Path, dict]]]:
    """(corpus.json, [(wav path, sidecar)...]) of a corpus folder, ordered by clip name."""
    folder = Path(folder)
    marker = folder / CORPUS_FILE
    if not marker.is_file():
        raise BeatLMError(f"{folder} is not a BeatLM corpus (no {CORPUS_FILE}); render one with "
                          f"`beatlm corpus render --out {folder}`")
    spec = json.loads(marker.read_text())
    clips = []
    for split in SPLITS:
        for wav in sorted((folder / "audio" / split).glob("*.wav")):
            info_path = wav.with_suffix(".json")
            info = json.loads(info_path.read_text()) if info_path.is_file() else {}
            info["_split"] = split
            clips.append((wav, info))
    if not clips:
        raise BeatLMError(f"{folder} holds no rendered clip yet; run `beatlm corpus render --out {folder}`")
    clips.sort(key=lambda c: c[0].name)
    return spec, clips


def _check_file(args: tp.Tuple[str, int, float]) -> tp.Dict[str, tp.Any]:
    import soundfile as sf
    path, rate, duration = args
    try:
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # any decoder error is a broken file
        return {"problems": [f"unreadable ({exc})"]}
    result = analysis.check_audio(wav.mean(axis=1), sr, rate, duration)
    if wav.shape[1] != 1:
        result["problems"].append(f"{wav.shape[1]} channels, expected mono")
    return result


def _analyse(args: tp.Tuple[str, float, str]) -> tp.Tuple[float, str]:
    import soundfile as sf
    path, _, _ = args
    wav, sr = sf.read(path, dtype="float32")
    return music.estimate_tempo(wav, sr), music.estimate_key(wav, sr)


def _map(fn: tp.Callable, items: tp.Sequence, workers: int) -> tp.List:
    if workers <= 1 or len(items) < 4:
        return [fn(i) for i in items]
    with mp.get_context("spawn").Pool(workers) as pool:
        return pool.map(fn, items, chunksize=max(1, len(items) // (8 * workers)))


def caption_stats(captions: tp.Sequence[str]) -> tp.Dict[str, tp.Any]:
    """Length distribution (words) and vocabulary of a list of captions."""
    lengths = np.array([len(words(c)) for c in captions])
    vocab = collections.Counter(w for c in captions for w in words(c))
    return {"count": len(captions), "distinct": len(set(captions)),
            "words_mean": float(lengths.mean()), "words_median": float(np.median(lengths)),
            "words_p5": float(np.percentile(lengths, 5)), "words_p95": float(np.percentile(lengths, 95)),
            "vocabulary": len(vocab), "_vocab": vocab, "_lengths": lengths}


def compare_musiccaps(ours: tp.Dict[str, tp.Any], csv_path: tp.Union[str, Path]) -> tp.Dict[str, tp.Any]:
    """Our captions against MusicCaps: lengths, and how much of our vocabulary people also use."""
    path = Path(csv_path)
    if not path.is_file():
        raise BeatLMError(f"MusicCaps file {path} not found; pass --musiccaps with the path of musiccaps-*.csv")
    with open(path, newline="") as f:
        theirs = caption_stats([row["caption"] for row in csv.DictReader(f) if row.get("caption")])
    ours_vocab, their_vocab = ours["_vocab"], theirs["_vocab"]
    shared_types = [w for w in ours_vocab if w in their_vocab]
    token_cover = sum(ours_vocab[w] for w in shared_types) / max(1, sum(ours_vocab.values()))
    return {"musiccaps": {k: v for k, v in theirs.items() if not k.startswith("_")}, "_theirs": theirs,
            "our_types_in_musiccaps": len(shared_types) / max(1, len(ours_vocab)),
            "our_tokens_in_musiccaps": token_cover,
            "our_words_not_in_musiccaps": sorted((w for w in ours_vocab if w not in their_vocab),
                                                 key=lambda w: -ours_vocab[w])[:25]}


def corpus_stats(folder: tp.Union[str, Path], analyse: int = 200, workers: int = 1,
                 musiccaps: tp.Optional[tp.Union[str, Path]] = None) -> tp.Dict[str, tp.Any]:
    """Every number of the stats report (see the module docstring); `analyse` clips get tempo/key estimates."""
    spec, clips = load_corpus(folder)
    infos = [info for _, info in clips]
    report: tp.Dict[str, tp.Any] = {"clips": len(clips), "spec": spec,
                                    "splits": dict(collections.Counter(i["_split"] for i in infos))}
    report["styles"] = dict(collections.Counter(i.get("beatlm", {}).get("style", "?") for i in infos))
    bpm_by_style: tp.Dict[str, tp.List[float]] = collections.defaultdict(list)
    for i in infos:
        bpm_by_style[i.get("beatlm", {}).get("style", "?")].append(float(i.get("bpm", 0)))
    report["bpm"] = {s: {"min": min(v), "mean": float(np.mean(v)), "max": max(v)} for s, v in bpm_by_style.items()}
    report["_bpms"] = [float(i.get("bpm", 0)) for i in infos]
    report["keys"] = dict(collections.Counter(i.get("key", "?") for i in infos).most_common())
    report["modes"] = dict(collections.Counter(i.get("key", "? ?").split()[-1] for i in infos))
    report["instruments"] = dict(collections.Counter(
        name.strip() for i in infos for name in i.get("instrument", "").split(",") if name.strip()).most_common())

    descriptions = [i.get("description", "") for i in infos]
    all_captions = [c for i in infos for c in i.get("captions", [i.get("description", "")])]
    caps = caption_stats(all_captions)
    report["captions"] = {k: v for k, v in caps.items() if not k.startswith("_")}
    report["_caption_lengths"] = caps["_lengths"]
    bpm_hits = [str(int(i["bpm"])) in re.findall(r"\d+", c) for i in infos for c in i.get("captions", [])]
    key_hits = [i["key"].split()[0].lower() + " " + i["key"].split()[1][:3] in c.lower()
                for i in infos for c in i.get("captions", [])]
    report["captions"]["mention_bpm"] = float(np.mean(bpm_hits)) if bpm_hits else 0.0
    report["captions"]["mention_key"] = float(np.mean(key_hits)) if key_hits else 0.0
    report["captions"]["descriptions_distinct"] = len(set(descriptions))
    if musiccaps:
        report["musiccaps"] = compare_musiccaps(caps, musiccaps)

    rate, duration = int(spec["sample_rate"]), float(spec["duration"])
    checks = _map(_check_file, [(str(p), rate, duration) for p, _ in clips], workers)
    problems = [f"{p}: {msg}" for (p, _), c in zip(clips, checks) for msg in c["problems"]]
    missing_sidecar = [str(p) for p, i in clips if "bpm" not in i]
    problems += [f"{p}: sidecar JSON missing" for p in missing_sidecar]
    lufs = np.array([c.get("lufs", np.nan) for c in checks], dtype=float)
    peaks = np.array([c.get("peak_dbfs", np.nan) for c in checks], dtype=float)
    report["files"] = {"checked": len(checks), "problems": problems,
                       "lufs_min": float(np.nanmin(lufs)), "lufs_median": float(np.nanmedian(lufs)),
                       "lufs_max": float(np.nanmax(lufs)), "peak_dbfs_max": float(np.nanmax(peaks))}
    report["_lufs"] = lufs

    if analyse:
        picks = np.unique(np.linspace(0, len(clips) - 1, min(analyse, len(clips))).round().astype(int))
        picks = [int(k) for k in picks if not checks[k]["problems"] and "bpm" in infos[k]]  # broken files: skip
        estimates = _map(_analyse, [(str(clips[k][0]), 0.0, "") for k in picks], workers)
        tempo_ok, key_ok = [], []
        by_style: tp.Dict[str, tp.List[tp.Tuple[bool, bool]]] = collections.defaultdict(list)
        for k, (tempo, key) in zip(picks, estimates):
            info = infos[k]
            t_ok, k_ok = music.tempo_matches(tempo, float(info["bpm"])), music.same_key(key, info["key"])
            tempo_ok.append(t_ok)
            key_ok.append(k_ok)
            by_style[info["beatlm"]["style"]].append((t_ok, k_ok))
        report["accuracy"] = {"clips": len(picks), "tempo": float(np.mean(tempo_ok or [0])),
                              "key": float(np.mean(key_ok or [0])),
                              "by_style": {s: {"tempo": float(np.mean([a for a, _ in v])),
                                               "key": float(np.mean([b for _, b in v])), "clips": len(v)}
                                           for s, v in sorted(by_style.items())}}

    timings = Path(folder) / "timings.jsonl"
    if timings.is_file():
        rows = [json.loads(line) for line in timings.read_text().splitlines() if line.strip()]
        if rows:
            per_10s = [r["cpu_s"] * 10.0 / r["duration"] for r in rows]
            report["speed"] = {"clips_timed": len(rows), "cpu_s_per_10s_clip_mean": float(np.mean(per_10s)),
                               "cpu_s_per_10s_clip_p95": float(np.percentile(per_10s, 95))}
    return report


def format_report(report: tp.Dict[str, tp.Any]) -> str:
    """The human-readable text of a stats report."""
    spec = report["spec"]
    lines = [f"corpus: {report['clips']} clips, {spec['duration']:g} s at {spec['sample_rate']} Hz, "
             f"seed {spec['seed']}; splits {report['splits']}"]
    lines.append("styles: " + ", ".join(f"{k} {v}" for k, v in sorted(report["styles"].items())))
    lines.append("tempo (BPM) by style: " + "; ".join(
        f"{s} {b['min']:.0f}-{b['max']:.0f} (mean {b['mean']:.1f})" for s, b in sorted(report["bpm"].items())))
    lines.append(f"keys ({len(report['keys'])} distinct): " + ", ".join(f"{k} {v}" for k, v in report["keys"].items()))
    lines.append("modes: " + ", ".join(f"{k} {v}" for k, v in report["modes"].items()))
    lines.append("instruments: " + ", ".join(f"{k} {v}" for k, v in report["instruments"].items()))
    c = report["captions"]
    lines.append(f"captions: {c['count']} ({c['distinct']} distinct), words mean {c['words_mean']:.1f}, median "
                 f"{c['words_median']:.0f}, 5-95% {c['words_p5']:.0f}-{c['words_p95']:.0f}, vocabulary "
                 f"{c['vocabulary']}; BPM stated in {100 * c['mention_bpm']:.0f}%, "
                 f"key in {100 * c['mention_key']:.0f}%")
    if "musiccaps" in report:
        m = report["musiccaps"]
        mc = m["musiccaps"]
        lines.append(f"MusicCaps: {mc['count']} captions, words mean {mc['words_mean']:.1f}, median "
                     f"{mc['words_median']:.0f}, 5-95% {mc['words_p5']:.0f}-{mc['words_p95']:.0f}, vocabulary "
                     f"{mc['vocabulary']}; {100 * m['our_types_in_musiccaps']:.0f}% of our word types and "
                     f"{100 * m['our_tokens_in_musiccaps']:.0f}% of our word tokens occur in MusicCaps")
        lines.append("  our most frequent words absent from MusicCaps: " + ", ".join(m["our_words_not_in_musiccaps"]))
    f = report["files"]
    lines.append(f"files: {f['checked']} checked, {len(f['problems'])} problem(s); loudness {f['lufs_min']:.1f} to "
                 f"{f['lufs_max']:.1f} LUFS (median {f['lufs_median']:.1f}), "
                 f"highest peak {f['peak_dbfs_max']:.2f} dBFS")
    for p in f["problems"][:20]:
        lines.append(f"  PROBLEM {p}")
    if "accuracy" in report:
        a = report["accuracy"]
        lines.append(f"accuracy on {a['clips']} clips: tempo within 4% (librosa beat tracker, octave errors are "
                     "misses) "
                     f"{100 * a['tempo']:.1f}%, key and mode (chroma + Krumhansl profiles) {100 * a['key']:.1f}%")
        for s, v in a["by_style"].items():
            lines.append(f"  {s:9s} tempo {100 * v['tempo']:5.1f}%  key {100 * v['key']:5.1f}%  ({v['clips']} clips)")
    if "speed" in report:
        s = report["speed"]
        lines.append(f"speed: {s['cpu_s_per_10s_clip_mean']:.3f} s of CPU per 10 s clip on average "
                     f"(95th percentile {s['cpu_s_per_10s_clip_p95']:.3f} s, {s['clips_timed']} clips timed)")
    return "\n".join(lines)


def plot_report(report: tp.Dict[str, tp.Any], path: tp.Union[str, Path]) -> Path:
    """Save a 2x3 PNG summary: styles, tempi, keys, instruments, caption lengths, loudness."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    ax.bar(list(report["styles"]), list(report["styles"].values()), color="tab:blue")
    ax.set_title("clips per style")
    ax.tick_params(axis="x", rotation=45)
    ax = axes[0, 1]
    ax.hist(report["_bpms"], bins=40, color="tab:orange")
    ax.set_title("tempo (BPM)")
    ax = axes[0, 2]
    keys = sorted(report["keys"].items(), key=lambda kv: (kv[0].split()[1], kv[0]))
    ax.bar([k for k, _ in keys], [v for _, v in keys], color="tab:green")
    ax.set_title("keys")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax = axes[1, 0]
    inst = list(report["instruments"].items())[:20]
    ax.barh([k for k, _ in inst][::-1], [v for _, v in inst][::-1], color="tab:purple")
    ax.set_title("instruments (clips)")
    ax = axes[1, 1]
    bins = np.arange(0, 120, 4)
    ax.hist(report["_caption_lengths"], bins=bins, density=True, alpha=0.6, label="BeatLM captions")
    if "musiccaps" in report:
        ax.hist(report["musiccaps"]["_theirs"]["_lengths"], bins=bins, density=True, alpha=0.6, label="MusicCaps")
    ax.legend()
    ax.set_title("caption length (words)")
    ax = axes[1, 2]
    ax.hist(report["_lufs"][np.isfinite(report["_lufs"])], bins=30, color="tab:red")
    ax.set_title("integrated loudness (LUFS)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def public(report: tp.Dict[str, tp.Any]) -> tp.Dict[str, tp.Any]:
    """The report without its private arrays (for JSON)."""
    out = {}
    for k, v in report.items():
        if k.startswith("_"):
            continue
        out[k] = public(v) if isinstance(v, dict) else v
    return out
