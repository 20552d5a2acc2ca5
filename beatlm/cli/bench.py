"""`beatlm bench generation`: generation speed and memory of BeatLM against its baselines (prints a table)."""

import argparse
from pathlib import Path
import sys

from ..utils.errors import BeatLMError

GENERATION_DOC = """Generate the same seconds of audio with BeatLM, an equal-parameter MusicGen-style LM (audiocraft
LMModel, delay pattern) and audiolm-pytorch's three stages of the same sizes; report wall time,
real-time factor, time per stage, peak memory, cold start, and BeatLM / baseline ratios."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="benchmarks (generation speed and memory)")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    p = kinds.add_parser("generation", help="BeatLM vs a MusicGen-style LM and audiolm-pytorch",
                         description=GENERATION_DOC,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="bundle folder (default: the model shipped with BeatLM)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of audio per item (default: %(default)s)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (default: 1 8)")
    p.add_argument("--repeats", type=int, default=1, help="runs per system and batch, the fastest kept (default: 1)")
    p.add_argument("--skip-audiolm", action="store_true", help="leave out audiolm-pytorch (slow: minutes at 10 s)")
    p.add_argument("--skip-cold-start", action="store_true", help="leave out the fresh-process cold start")
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..benchmarks.generation import run_benchmark, table, write_json
    if not 0 < args.seconds <= 60 or any(b < 1 for b in args.batch) or args.repeats < 1:
        raise BeatLMError("--seconds must be in (0, 60], every --batch and --repeats at least 1")
    report = run_benchmark(args.model, seconds=args.seconds, batches=args.batch, audiolm=not args.skip_audiolm,
                           cold=not args.skip_cold_start, repeats=args.repeats,
                           log=lambda line: print(line, file=sys.stderr))
    print(table(report))
    if args.json:
        write_json(report, args.json)
        print(f"report written to {args.json}", file=sys.stderr)
    return 0
