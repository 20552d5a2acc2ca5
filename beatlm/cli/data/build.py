"""`beatlm data build pipeline.yaml`: run the data steps in order from a YAML file."""

import argparse
from pathlib import Path


def _names(text: str) -> list:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "build", help="run the steps of a pipeline YAML in order (resumable)",
        description="Run the steps listed in a pipeline YAML in order, each with its `beatlm data STEP` options\n"
                    "(`per_query: 2` for --per-query 2, a positional by its name, `true` for a flag, a list\n"
                    "joined with commas). Relative paths are relative to `workdir:` (default: the YAML's folder).\n"
                    "Every step skips what it already did, so an interrupted build continues when run again.\n\n"
                    "Example:\n"
                    "  steps:\n"
                    "    captions: {n: 200, out: captions.jsonl, backend: template}\n"
                    "    fetch: {captions: captions.jsonl, out: raw, per_query: 2}\n"
                    "    separate: {raw: raw, out: instrumental}\n"
                    "    segment: {dir: instrumental, out: clips}\n"
                    "    features: {dir: clips}\n"
                    "    manifest: {dir: clips, splits: [0.9, 0.05, 0.05]}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", type=Path, help="pipeline YAML")
    parser.add_argument("--only", type=_names, default=None, help="comma-separated steps to run (default: all)")
    parser.add_argument("--from", dest="start", default=None, help="skip the steps before this one")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.pipeline import run_pipeline
    from . import build_parser
    timings = run_pipeline(args.pipeline, build_parser, only=args.only, start=args.start, dry_run=args.dry_run)
    if timings:
        total = sum(seconds for _, seconds in timings)
        print(f"build: {len(timings)} step(s) done in {total:.1f} s: " +
              ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings))
    return 0
