"""`beatlm bench generation|training|data`: generation speed and memory against baselines, training throughput
on 1 and 2 processes, and data loading at scale (each prints a table or figures)."""

import argparse
import json
from pathlib import Path
import sys
import typing as tp

from ..utils.errors import BeatLMError

GENERATION_DOC = """Generate the same seconds of audio with BeatLM, an equal-parameter MusicGen-style LM (audiocraft
LMModel, delay pattern) and audiolm-pytorch's three stages of the same sizes; report wall time,
real-time factor, time per stage, peak memory, cold start, and BeatLM / baseline ratios."""

TRAINING_DOC = """Train every solver (codec, MuLaN, semantic, coarse, fine) at micro scale through `dora run`, on 1
process and on 2 (`dora run -d`, gloo on CPU) with the same global batch split over them, and report the second epoch's
training throughput: clips/s, seconds of audio per second, tokens/s for the stages (all processes together), and
the speed-up of 2 processes over 1. The stages stand on the shipped model's codec, MuLaN and semantic tokenizer."""

DATA_DOC = """Load a synthetic manifest of N entries (symbolic links to one WAV) as BeatLM and audiocraft do, check its
files, and open and randomly read a synthetic token cache of N clips of 10 s with a bounded number of shards in memory;
print the seconds and the memory each took."""


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

    t = kinds.add_parser("training", help="training throughput of every solver on 1 and 2 processes",
                         description=TRAINING_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--workdir", type=Path, help="folder for the corpus and the runs (default: a temporary folder)")
    t.add_argument("--solvers", nargs="+", default=None, help="among codec mulan semantic coarse fine (default: all)")
    t.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="(default: 1 2)")
    t.add_argument("--updates", type=int, default=5, help="updates per epoch; the second epoch is timed (default: 5)")
    t.add_argument("--corpus", type=Path, help="a corpus folder with egs/train and egs/valid "
                   "(default: render 16 clips)")
    t.add_argument("--parts", type=Path, help="folder with codec.th, mulan.th, semantic_tokenizer.th for the stages "
                   "(default: the shipped model)")
    t.add_argument("--json", type=Path, help="also write the rows as JSON here")
    t.set_defaults(run=run_training)

    d = kinds.add_parser("data", help="manifest loading and token-cache reading at scale",
                         description=DATA_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--entries", type=int, default=100_000, help="manifest entries and cache clips (default: 100000)")
    d.add_argument("--workdir", type=Path, help="folder for the synthetic files (default: a temporary folder)")
    d.add_argument("--max-shards-in-memory", type=int, default=8, help="token-cache shards held at once (default: 8)")
    d.add_argument("--skip-file-checks", action="store_true", help="do not time the check of every listed file")
    d.add_argument("--json", type=Path, help="also write the figures as JSON here")
    d.set_defaults(run=run_data)


def _workdir(path: tp.Optional[Path]) -> tp.ContextManager[str]:
    import contextlib
    import tempfile
    if path is None:
        return tempfile.TemporaryDirectory(prefix="beatlm-bench-")
    path.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(path))


def _write_json(data: tp.Any, path: tp.Optional[Path]) -> None:
    if path is not None:
        from ..utils.files import atomic_path
        with atomic_path(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")
        print(f"report written to {path}", file=sys.stderr)


def run_training(args: argparse.Namespace) -> int:
    from ..benchmarks.training import SOLVERS, run_benchmark, table
    if args.updates < 1 or any(n < 1 for n in args.processes):
        raise BeatLMError("--updates and every --processes must be at least 1")
    parts = None
    if args.parts is not None:
        parts = {"codec": args.parts / "codec.th", "mulan": args.parts / "mulan.th",
                 "semantic": args.parts / "semantic_tokenizer.th"}
        missing = [str(p) for p in parts.values() if not p.is_file()]
        if missing:
            raise BeatLMError(f"--parts {args.parts} lacks {', '.join(missing)}")
    if args.corpus is not None and not (args.corpus / "egs" / "train").is_dir():
        raise BeatLMError(f"--corpus {args.corpus} has no egs/train manifest folder")
    with _workdir(args.workdir) as workdir:
        rows = run_benchmark(Path(workdir), solvers=args.solvers or SOLVERS, processes=args.processes,
                             updates=args.updates, parts=parts, corpus=args.corpus,
                             log=lambda line: print(line, file=sys.stderr))
    print(table(rows))
    _write_json(rows, args.json)
    return 0


def run_data(args: argparse.Namespace) -> int:
    from ..benchmarks.data_scale import bench_manifest, bench_token_cache
    if args.entries < 1 or args.max_shards_in_memory < 1:
        raise BeatLMError("--entries and --max-shards-in-memory must be at least 1")
    with _workdir(args.workdir) as workdir:
        report = {"manifest": bench_manifest(Path(workdir) / "manifest", args.entries,
                                             check_files=not args.skip_file_checks),
                  "token_cache": bench_token_cache(Path(workdir) / "token_cache", args.entries,
                                                   max_shards_in_memory=args.max_shards_in_memory)}
    _write_json(report, args.json)
    return 0


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
