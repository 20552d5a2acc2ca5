"""`beatlm data STEP`: build a training set from real beats, one resumable step at a time.

captions (chat model or offline grammar) -> fetch (yt-dlp) -> separate (Demucs) -> segment (beat-aligned
clips) -> features (mel, MFCC, chroma) -> manifest (audiocraft manifests); `build` runs them from a YAML.
Each step is a module of this package exposing `add_parser(steps)`.
"""

import argparse
import importlib
import typing as tp

STEPS = ("captions", "fetch", "separate", "segment", "features", "manifest", "build")


def step_modules() -> tp.List[tp.Any]:
    """The modules of the steps, in pipeline order (imported here, so a missing one fails only now)."""
    return [importlib.import_module(f"{__name__}.{name}") for name in STEPS]


def add_steps(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """Add every step as a sub-command of `parser`; returns the sub-parsers object."""
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    for module in step_modules():
        module.add_parser(steps)
    return steps


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `beatlm data` and its steps on the top-level sub-parsers `sub`."""
    parser = sub.add_parser(
        "data", help="build a data set of real beats: captions, fetch, separate, segment, features, manifest",
        description="The data pipeline: a chat model (or the corpus grammar) writes captions, yt-dlp finds "
                    "audio for each, Demucs removes vocals, librosa cuts beat-aligned clips and extracts "
                    "features, and audiocraft manifests come out. Every step is resumable: re-run it to finish. "
                    "`beatlm data build pipeline.yaml` runs them all.")
    add_steps(parser)


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone `beatlm data` parser (used by `build` to parse each step's options)."""
    parser = argparse.ArgumentParser(prog="beatlm data", description="The data pipeline steps.")
    add_steps(parser)
    return parser
