"""Per-sample measurements of generated beats and their aggregation into report metrics and targets."""

import collections
import typing as tp

import numpy as np

from ..metrics import music
from ..metrics.vocals import SPEECH_FREE_RATIO
from .prompts import Prompt

TEMPO_TARGET = 0.80  # share of samples within 4 % of the BPM asked
KEY_TARGET = 0.60  # share of samples in the key asked (where a prompt names one)
MULAN_MARGIN = 0.10  # matched MuLaN cosine must beat the shuffled one by this much
SPEECH_FREE_TARGET = 0.95  # share of samples with speech ratio under SPEECH_FREE_RATIO


def measure_sample(wav: np.ndarray, sample_rate: int, prompt: Prompt) -> tp.Dict[str, tp.Any]:
    """Tempo and key of one generated mono sample [T], scored against what its prompt asks.

    Returns:
        `tempo_bpm` and `key` estimates; where the prompt asks, `tempo_hit`, `tempo_octave_error` and `key_hit`
        (None where it does not).
    """
    tempo = music.estimate_tempo(wav, sample_rate)
    key = music.estimate_key(wav, sample_rate)
    out: tp.Dict[str, tp.Any] = {"tempo_bpm": round(tempo, 2), "key": key, "tempo_hit": None,
                                 "tempo_octave_error": None, "key_hit": None}
    if prompt.bpm is not None:
        out["tempo_hit"] = music.tempo_matches(tempo, prompt.bpm)
        out["tempo_octave_error"] = music.octave_error(tempo, prompt.bpm)
    if prompt.key is not None:
        out["key_hit"] = music.same_key(key, prompt.key)
    return out


def _share(values: tp.Sequence[tp.Optional[bool]]) -> tp.Tuple[tp.Optional[float], int]:
    asked = [bool(v) for v in values if v is not None]
    return (float(np.mean(asked)) if asked else None), len(asked)


def _mean(values: tp.Sequence[tp.Optional[float]]) -> tp.Optional[float]:
    kept = [float(v) for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarise(samples: tp.Sequence[tp.Dict[str, tp.Any]]) -> tp.Dict[str, tp.Any]:
    """Tempo, key, MuLaN and vocal metrics over per-sample rows (as `evaluate_model` builds them)."""
    tempo, tempo_n = _share([s["tempo_hit"] for s in samples])
    key, key_n = _share([s["key_hit"] for s in samples])
    ratios = [s["speech_ratio"] for s in samples]
    matched, shuffled = _mean([s["mulan"] for s in samples]), _mean([s["mulan_shuffled"] for s in samples])
    return {
        "tempo": {"adherence": tempo, "samples": tempo_n,
                  "octave_errors": sum(bool(s["tempo_octave_error"]) for s in samples),
                  "tolerance": music.TEMPO_TOLERANCE},
        "key": {"adherence": key, "samples": key_n},
        "mulan": {"matched": matched, "shuffled": shuffled,
                  "difference": None if matched is None or shuffled is None else matched - shuffled},
        "vocals": {"speech_ratio_mean": _mean(ratios), "speech_ratio_max": max(ratios) if ratios else None,
                   "speech_free_share": float(np.mean([r < SPEECH_FREE_RATIO for r in ratios])) if ratios else None,
                   "speech_free_below": SPEECH_FREE_RATIO},
    }


def by_style(samples: tp.Sequence[tp.Dict[str, tp.Any]]) -> tp.Dict[str, tp.Dict[str, tp.Any]]:
    """The same metrics per style (`unspecified` for prompts naming none)."""
    groups: tp.Dict[str, tp.List[tp.Dict[str, tp.Any]]] = collections.defaultdict(list)
    for s in samples:
        groups[s["style"] or "unspecified"].append(s)
    out = {}
    for style, rows in sorted(groups.items()):
        m = summarise(rows)
        out[style] = {"samples": len(rows), "tempo": m["tempo"]["adherence"], "key": m["key"]["adherence"],
                      "mulan": m["mulan"]["matched"], "speech_free": m["vocals"]["speech_free_share"]}
    return out


def _target(name: str, value: tp.Optional[float], goal: str, met: tp.Optional[bool], note: str = ""
            ) -> tp.Dict[str, tp.Any]:
    return {"name": name, "value": value, "target": goal, "met": met, "note": note}


def targets(metrics: tp.Dict[str, tp.Any]) -> tp.List[tp.Dict[str, tp.Any]]:
    """Each target with its value and whether it is met (None: could not be evaluated, with why)."""
    t, k, m, v = metrics["tempo"], metrics["key"], metrics["mulan"], metrics["vocals"]
    out = [
        _target("tempo adherence", t["adherence"], f">= {TEMPO_TARGET:.0%} within 4% of the BPM asked",
                None if t["adherence"] is None else t["adherence"] >= TEMPO_TARGET,
                "" if t["samples"] else "no prompt names a BPM"),
        _target("key adherence", k["adherence"], f">= {KEY_TARGET:.0%} where the prompt names a key",
                None if k["adherence"] is None else k["adherence"] >= KEY_TARGET,
                "" if k["samples"] else "no prompt names a key"),
        _target("MuLaN cycle consistency", m["matched"], f">= shuffled + {MULAN_MARGIN:g}",
                None if m["difference"] is None else m["difference"] >= MULAN_MARGIN,
                "needs at least 2 prompts" if m["shuffled"] is None else
                f"shuffled {m['shuffled']:.3f}, difference {m['difference']:+.3f}"),
        _target("no vocals", v["speech_free_share"],
                f"speech ratio < {SPEECH_FREE_RATIO:.0%} for >= {SPEECH_FREE_TARGET:.0%} of samples",
                None if v["speech_free_share"] is None else v["speech_free_share"] >= SPEECH_FREE_TARGET),
    ]
    return out
