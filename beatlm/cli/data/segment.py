"""`beatlm data segment`: beat-aligned clips of a fixed length, with estimated tempo and key."""

import argparse
from pathlib import Path


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "segment", help="cut tracks into beat-aligned clips of fixed length (bpm and key in each sidecar)",
        description="Track the beats of every audio file under DIR (librosa) and cut clips of --duration seconds "
                    "that start on beats, without overlap, into OUT/<track>/<track>_NNNN.wav. Each clip's sidecar "
                    "keeps the track's fields (source, caption, ...) and adds its estimated bpm and key, where it "
                    "was cut from, and its residual-vocals ratio when the track was separated. Silent clips are "
                    "skipped. A track's clips appear all at once; re-runs skip finished tracks.")
    parser.add_argument("dir", type=Path, help="folder of tracks (from `beatlm data separate`, or any audio)")
    parser.add_argument("--out", type=Path, required=True, help="folder of clips (new, or one to continue)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per clip (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=None, help="Hz of the clips (default: the track's)")
    parser.add_argument("--channels", type=int, default=None, choices=(1, 2),
                        help="channels of the clips (default: the track's)")
    parser.add_argument("--max-clips", type=int, default=None, help="at most this many clips per track")
    parser.add_argument("--force", action="store_true", help="segment again tracks already done")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.segments import run_segmentation
    from ...utils.errors import BeatLMError
    if args.sample_rate is not None and args.sample_rate < 8000:
        raise BeatLMError("--sample-rate must be at least 8000")
    if args.max_clips is not None and args.max_clips < 1:
        raise BeatLMError("--max-clips must be at least 1")
    summary = run_segmentation(args.dir, args.out, args.duration, args.sample_rate, args.channels, args.max_clips,
                               force=args.force, progress=not args.quiet)
    print(summary.format())
    print(f"clips and sidecars: {args.out}")
    return 1 if summary.failed and not summary.done and not summary.skipped else 0
