"""`beatlm corpus render|stats|prompts`: the procedural beat corpus (captioned, labelled rap instrumentals)."""

import argparse
import json
from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError


def _styles(text: str) -> tp.List[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("corpus", help="render or inspect the procedural beat corpus",
                            description="Procedural rap instrumentals with exact labels (style, BPM, key, "
                                        "instruments) and human-like captions, written as audiocraft manifests.")
    kinds = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    render = kinds.add_parser("render", help="render clips (resumable) and write manifests and a dset YAML",
                              description="Render NUM_CLIPS clips into OUT/audio/<split>/, each WAV with a MusicInfo "
                                          "sidecar JSON, then OUT/egs/<split>/data.jsonl.gz and a dset YAML so that "
                                          "`dora run ... dset=beats/<name>` trains on them. Stop at any time and "
                                          "re-run the same command to finish.")
    render.add_argument("--out", required=True, help="corpus folder (new, empty, or one to resume)")
    render.add_argument("--num-clips", type=int, default=2000, help="clips in total (default: %(default)s)")
    render.add_argument("--duration", type=float, default=10.0, help="seconds per clip (default: %(default)s)")
    render.add_argument("--sample-rate", type=int, default=32000, help="Hz (default: %(default)s)")
    render.add_argument("--seed", type=int, default=0, help="corpus seed; same seed, same bytes (default: %(default)s)")
    render.add_argument("--workers", type=int, default=1, help="parallel processes (default: %(default)s)")
    render.add_argument("--styles", type=_styles, default=None,
                        help="comma-separated sub-styles (default: all; see `beatlm corpus render --list-styles`)")
    render.add_argument("--list-styles", action="store_true", help="print the sub-styles and exit")
    render.add_argument("--soundfont", default=None, help="General MIDI .sf2 (default: pretty_midi's TimGM6mb.sf2)")
    render.add_argument("--samples", default=None, help="folder of drum one-shots (default: the bundled CC0 set)")
    render.add_argument("--dset-name", default=None, help="write dset/beats/NAME.yaml (default: OUT's folder name)")
    render.add_argument("--config-dir", default=None,
                        help="where the dset YAML goes (default: $BEATLM_CONFIG_DIR or ~/.config/beatlm)")
    render.add_argument("--no-dset", action="store_true", help="do not write a dset YAML")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    render.set_defaults(run=run_render)

    stats = kinds.add_parser("stats", help="distributions, file checks, tempo/key accuracy, speed, PNG summary",
                             description="Print the distribution of styles, tempi, keys, instruments and captions of "
                                         "a corpus, check every file, estimate tempo and key on a sample of clips, "
                                         "and save a PNG summary. Exits 1 if any file fails a check.")
    stats.add_argument("folder", help="corpus folder (the --out of `corpus render`)")
    stats.add_argument("--analyse", type=int, default=200,
                       help="clips whose tempo and key are estimated (0: none; default: %(default)s)")
    stats.add_argument("--workers", type=int, default=1, help="parallel processes (default: %(default)s)")
    stats.add_argument("--musiccaps", default=None, help="MusicCaps CSV to compare captions with")
    stats.add_argument("--plot", default=None, help="PNG to write (default: FOLDER/stats.png)")
    stats.add_argument("--json", default=None, help="JSON report to write (default: FOLDER/stats.json)")
    stats.set_defaults(run=run_stats)
    _add_prompts_parser(kinds)


def _add_prompts_parser(kinds: argparse._SubParsersAction) -> None:
    prompts = kinds.add_parser(
        "prompts", help="write held-out evaluation prompts (JSON lines, no audio)",
        description="Draw NUM prompts as `corpus render` draws clips (style, tempo, key, instruments, captions from "
                    "captions.yaml) but from random streams no corpus uses, without rendering audio, and write one "
                    'JSON object per line: {"prompt", "bpm", "key", "style"} (key null where the prompt names '
                    "none). Every prompt states its tempo ('140 bpm'); every other one its key (all with "
                    "--require-key). The same seed gives the same file.")
    prompts.add_argument("--num", type=int, default=50, help="number of prompts (default: %(default)s)")
    prompts.add_argument("--seed", type=int, default=1, help="prompt seed (default: %(default)s)")
    prompts.add_argument("--out", type=Path, required=True, help="JSON-lines file to write, e.g. prompts.jsonl")
    prompts.add_argument("--styles", type=_styles, default=None,
                         help="comma-separated sub-styles (default: all; see `beatlm corpus render --list-styles`)")
    prompts.add_argument("--require-key", action="store_true", help="state the key in every prompt")
    prompts.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    prompts.set_defaults(run=run_prompts)


def run_render(args: argparse.Namespace) -> int:
    from ..dataset_builders.synth import corpus, styles
    if args.list_styles:
        for style in styles.all_styles().values():
            low, high = style["bpm"]
            print(f"{style.name:9s} {style.label:10s} {low}-{high} BPM")
        return 0
    out = Path(args.out)
    summary = corpus.render_corpus(out, num_clips=args.num_clips, duration=args.duration,
                                   sample_rate=args.sample_rate, seed=args.seed, workers=args.workers,
                                   styles=args.styles, soundfont=args.soundfont, samples=args.samples,
                                   progress=not args.quiet)
    print(f"{summary['present']} clips in {out} ({summary['rendered']} rendered now)")
    if summary["cpu_per_clip"] is not None:
        per_10s = summary["cpu_per_clip"] * 10.0 / args.duration
        print(f"speed: {summary['cpu_per_clip']:.3f} s of CPU per clip ({per_10s:.3f} s per 10 s of audio)")
    for split, path in summary["manifests"].items():
        print(f"manifest {split}: {path}")
    if not args.no_dset:
        from ..utils.paths import user_config_dir
        name = args.dset_name or out.resolve().name
        config_dir = Path(args.config_dir) if args.config_dir else user_config_dir()
        target = corpus.write_dset(out, args.sample_rate, config_dir, name)
        print(f"dset config: {target}  (train with: dora -P beatlm run ... dset=beats/{name})")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ..dataset_builders.synth import stats
    if args.analyse < 0 or args.workers < 1:
        raise BeatLMError("--analyse must be >= 0 and --workers >= 1")
    folder = Path(args.folder)
    report = stats.corpus_stats(folder, analyse=args.analyse, workers=args.workers, musiccaps=args.musiccaps)
    print(stats.format_report(report))
    plot = stats.plot_report(report, args.plot or folder / "stats.png")
    json_path = Path(args.json) if args.json else folder / "stats.json"
    json_path.write_text(json.dumps(stats.public(report), indent=2) + "\n")
    print(f"plot: {plot}\nreport: {json_path}")
    problems = report["files"]["problems"]
    if problems:
        raise BeatLMError(f"{len(problems)} file(s) failed the checks (listed above); delete them and re-run "
                          "`beatlm corpus render` with the same options to render them again")
    return 0


def run_prompts(args: argparse.Namespace) -> int:
    from ..dataset_builders.synth import prompts
    prompts.check_output(args.out, args.overwrite)
    items = prompts.make_prompts(args.num, args.seed, styles=args.styles, require_key=args.require_key)
    prompts.write_prompts(items, args.out, overwrite=args.overwrite)
    keyed = sum(item["key"] is not None for item in items)
    print(f"{len(items)} prompts in {args.out} (tempo stated in all, key in {keyed})")
    return 0
