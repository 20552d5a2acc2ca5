"""Writing a model report: plots, `report.json` and `report.md`, each file atomically (report.md last)."""

import json
from pathlib import Path
import typing as tp

import numpy as np

from . import plots

PLOTS = {"spectrograms": "spectrograms.png", "tempo": "tempo.png", "styles": "styles.png"}


def _jsonable(value: tp.Any) -> tp.Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(report: tp.Dict[str, tp.Any]) -> str:
    """The report as indented JSON (numpy values as plain numbers)."""
    return json.dumps(report, indent=2, ensure_ascii=False, default=_jsonable) + "\n"


def _fmt(value: tp.Any, percent: bool = False, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _met(met: tp.Optional[bool]) -> str:
    return "not evaluated" if met is None else ("**met**" if met else "**not met**")


def format_markdown(report: tp.Dict[str, tp.Any]) -> str:
    """The human-readable report."""
    s, m = report["settings"], report["metrics"]
    model = report["model"]
    lines = [f"# BeatLM model report: {model['name']}", "",
             f"Model `{model['source'] or 'default bundle'}` (hash `{model['hash']}`); {s['prompts']} prompts from "
             f"`{s['prompts_file']}` x {s['seeds']} seed(s) = {len(report['samples'])} samples of {s['duration']:g} s "
             f"at {s['sample_rate']} Hz on {s['device']}; base seed {s['seed']}; "
             f"{s['generation']['num_candidates']} MuLaN candidate(s) per sample. Created {report['created']}.", "",
             "## Targets", "", "| target | value | goal | result | note |", "|---|---|---|---|---|"]
    for t in report["targets"]:
        percent = t["name"] != "MuLaN cycle consistency"
        lines.append(f"| {t['name']} | {_fmt(t['value'], percent)} | {t['target']} | {_met(t['met'])} | {t['note']} |")
    met = [t["met"] for t in report["targets"] if t["met"] is not None]
    lines += ["", f"{sum(met)} of {len(met)} evaluated targets met.", "", "## Other metrics", "",
              "| metric | value | note |", "|---|---|---|"]
    t, v, f, d, c = m["tempo"], m["vocals"], m["frechet"], m["diversity"], m["codec"]
    lines.append(f"| tempo octave errors (half/double, counted as misses) | {t['octave_errors']} of {t['samples']} | |")
    lines.append(f"| mean / max speech ratio (silero-vad) | {_fmt(v['speech_ratio_mean'], True)} / "
                 f"{_fmt(v['speech_ratio_max'], True)} | share of 32 ms windows judged speech |")
    lines.append(f"| MuLaN cosine, matched / shuffled prompts | {_fmt(m['mulan']['matched'])} / "
                 f"{_fmt(m['mulan']['shuffled'])} | {m['mulan']['shuffle']} |")
    fd_note = f["note"] + (f"; reference `{f['reference']}` ({f.get('reference_clips')} clips), "
                           f"{f.get('covariance')} covariance" if f["value"] is not None else "")
    lines.append(f"| Fréchet distance, MuLaN audio embeddings | {_fmt(f['value'], digits=4)} | {fd_note} |")
    lines.append(f"| diversity across seeds | {_fmt(d['value'], digits=4)} | {d['note']} |")
    lines.append(f"| codec SI-SNR | {c['si_snr_db']:.2f} dB | {c['files']} files of `{c['folder']}`, "
                 "audiocraft's SISNR |")
    lines.append(f"| codec mel distance | {c['mel_distance']:.4f} | L1 between log-mel spectrograms, audiocraft's "
                 "MelSpectrogramL1Loss (64 mels) |")
    lines += ["", "## Per style", "", "| style | samples | tempo | key | MuLaN cosine | speech-free |",
              "|---|---|---|---|---|---|"]
    for style, row in report["by_style"].items():
        lines.append(f"| {style} | {row['samples']} | {_fmt(row['tempo'], True)} | {_fmt(row['key'], True)} | "
                     f"{_fmt(row['mulan'])} | {_fmt(row['speech_free'], True)} |")
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in report["files"]["plots"].items()]
    lines += ["", "## Samples", "", "| file | prompt | BPM asked / measured | key asked / measured | MuLaN | speech |",
              "|---|---|---|---|---|---|"]
    for r in report["samples"]:
        asked = "n/a" if r["bpm_asked"] is None else f"{r['bpm_asked']:g}"
        bpm = f"{asked} / {r['tempo_bpm']:.1f}" + (" ✓" if r["tempo_hit"] else "")
        key = f"{r['key_asked'] or 'n/a'} / {r['key']}" + (" ✓" if r["key_hit"] else "")
        prompt = r["prompt"].replace("|", "\\|")
        lines.append(f"| [{Path(r['file']).name}]({r['file']}) | {prompt} | {bpm} | {key} | {r['mulan']:.3f} | "
                     f"{_fmt(r['speech_ratio'], True)} |")
    lines += ["", "## How this is measured", "",
              "- Tempo: librosa's beat tracker on each sample; a hit is within 4% of the BPM asked (half or double "
              "tempo are misses).",
              "- Key: mean CQT chroma matched to Krumhansl-Kessler profiles; a hit is the asked tonic (enharmonics "
              "allowed) and mode.",
              "- MuLaN cycle consistency: cosine of the prompt's MuLaN text embedding with the sample's MuLaN audio "
              "embedding, beside the same with every sample paired to another prompt's text.",
              "- Vocals: silero-vad speech probability per 32 ms window (> 0.5 is speech).",
              "- Fréchet distance: Gaussians fitted to MuLaN audio embeddings of the samples and of the reference "
              "clips (Ledoit-Wolf shrinkage when a set has no more samples than dimensions).",
              "", f"Timings (s): {report['timings_s']}", ""]
    return "\n".join(lines)


def write_report(report: tp.Dict[str, tp.Any], out_dir: Path, previews: tp.Sequence[tp.Tuple[str, np.ndarray]],
                 sample_rate: int, overwrite: bool = False) -> tp.Dict[str, tp.Any]:
    """Write the plots, `report.json` and `report.md` into `out_dir`; `report["files"]` lists them (relative)."""
    from ..utils.files import atomic_path
    written = {}
    if previews:
        written["spectrograms"] = plots.plot_spectrograms(previews, sample_rate, out_dir / PLOTS["spectrograms"],
                                                          overwrite)
    written["tempo"] = plots.plot_tempo(report["samples"], out_dir / PLOTS["tempo"], overwrite)
    written["styles"] = plots.plot_styles(report["by_style"], out_dir / PLOTS["styles"], overwrite)
    report["files"] = {"report_md": "report.md", "report_json": "report.json",
                       "plots": {name: path.name for name, path in written.items()},
                       "samples": [r["file"] for r in report["samples"]]}
    with atomic_path(out_dir / "report.json", overwrite=overwrite) as tmp:
        tmp.write_text(to_json(report), encoding="utf-8")
    with atomic_path(out_dir / "report.md", overwrite=overwrite) as tmp:
        tmp.write_text(format_markdown(report), encoding="utf-8")
    return report["files"]
