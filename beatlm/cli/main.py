"""`beatlm`: the command-line entry point."""

import argparse
import sys
import typing as tp

from .. import __version__
from ..utils.errors import BeatLMError
from . import app, bench, corpus, data, doctor, evaluate, export, fit, generate, grid, plan, quickstart

COMMANDS = [generate, app, quickstart, doctor, export, evaluate, fit, corpus, data, bench, grid, plan]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, sub-commands included."""
    parser = argparse.ArgumentParser(
        prog="beatlm", description="BeatLM: rap instrumentals from text (MusicLM on audiocraft + Dora).",
        epilog="Training runs through Dora: dora -P beatlm run solver=compression/beats model_scale=micro dset=...")
    parser.add_argument("--version", action="version", version=f"beatlm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except BeatLMError as exc:  # a mistake in the input: exit 2 like argparse's usage errors
        print(f"beatlm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("beatlm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
