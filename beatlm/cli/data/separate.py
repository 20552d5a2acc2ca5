"""`beatlm data separate`: remove vocals with Demucs (two stems), keep the accompaniment, flag residual vocals."""

import argparse
from pathlib import Path
import typing as tp

from ...utils.errors import BeatLMError


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "separate", help="remove vocals with Demucs (accompaniment kept), flag clips with residual vocals",
        description="Separate every audio file under RAW with a Demucs model, subtract the vocal stem, and write the "
                    "accompaniment to OUT (same relative paths, WAV at the file's own rate and channels) with the "
                    "file's sidecar JSON plus the separation record. Long files are processed in blocks, so memory "
                    "stays bounded. Residual vocals are measured with silero-vad (share of speech windows); files "
                    "above --max-speech-ratio are flagged and `beatlm data manifest` leaves them out. Re-runs skip "
                    "finished files. Offline, --repo must name a local Demucs repo folder (NAME.yaml + .th files: "
                    "the official weights, or scripts/train_small_demucs.py's model), or use --model beatlm_vocals, "
                    "the small model shipped with BeatLM (trained on synthetic beats and voices).")
    parser.add_argument("raw", type=Path, help="folder of downloaded audio (from `beatlm data fetch`)")
    parser.add_argument("--out", type=Path, required=True, help="folder of accompaniments (new, or one to continue)")
    parser.add_argument("--model", default="htdemucs", help="Demucs model or bag name (default: %(default)s)")
    parser.add_argument("--repo", type=Path, default=None,
                        help="local Demucs repo folder holding MODEL (default: BeatLM's own folder for beatlm_vocals, "
                             "else the Hugging Face hub, online only)")
    parser.add_argument("--stem", default="vocals", help="stem to remove (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--max-speech-ratio", type=float, default=0.1,
                        help="flag files whose accompaniment is speech for more than this share of the time "
                             "(silero-vad; default: %(default)s)")
    parser.add_argument("--segment", type=float, default=None, help="seconds per model chunk (default: the model's)")
    parser.add_argument("--overlap", type=float, default=0.25, help="overlap of model chunks (default: %(default)s)")
    parser.add_argument("--block-seconds", type=float, default=30.0,
                        help="seconds of audio held in memory at once (default: %(default)s)")
    parser.add_argument("--shifts", type=int, default=0,
                        help="random shifts averaged by Demucs; 0 is deterministic (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="separate again files already done")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def model_info(args: argparse.Namespace) -> tp.Dict[str, tp.Any]:
    """What the sidecars record about the model."""
    from ...dataset_builders.demucs_repo import default_repo, hf_repo_id
    repo = args.repo if args.repo is not None else default_repo(args.model)
    origin = str(repo.resolve()) if repo is not None else f"hf://{hf_repo_id(args.model)}"
    return {"model": args.model, "repo": origin, "stem": args.stem}


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.demucs_repo import load_demucs
    from ...dataset_builders.separation import Separator, run_separation
    if args.repo is not None and not args.repo.is_dir():
        raise BeatLMError(f"--repo {args.repo} is not a folder")
    if args.shifts < 0:
        raise BeatLMError("--shifts must be 0 or more")

    def make_separator() -> Separator:
        return Separator(load_demucs(args.model, args.repo), stem=args.stem, device=args.device,
                         segment=args.segment, overlap=args.overlap, block_seconds=args.block_seconds,
                         shifts=args.shifts)

    summary = run_separation(args.raw, args.out, make_separator, model_info(args), args.max_speech_ratio,
                             force=args.force, progress=not args.quiet)
    print(summary.format())
    print(f"accompaniments and sidecars: {args.out}")
    return 1 if summary.failed and not summary.done and not summary.skipped else 0
