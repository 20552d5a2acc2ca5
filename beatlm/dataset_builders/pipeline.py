"""`beatlm data build`: run the data steps in order from a YAML file, each with its command-line options.

    # pipeline.yaml
    workdir: data/real          # optional; relative paths below are relative to it (default: this file's folder)
    steps:
      captions: {n: 200, out: captions.jsonl, backend: template}
      fetch: {captions: captions.jsonl, out: raw, per_query: 2, max_downloads: 100}
      separate: {raw: raw, out: instrumental}
      segment: {dir: instrumental, out: clips}
      features: {dir: clips}
      manifest: {dir: clips, splits: [0.9, 0.05, 0.05]}

Each step's options are its `beatlm data STEP` options (`per_query` or `per-query` for `--per-query`;
its positional argument by name: `captions`, `raw`, `dir`); `true` is a flag, `false`/`null` leave an
option out, a list is joined with commas. `steps` may also be a list of one-key mappings. Every step
is idempotent, so running the same file again finishes what an interrupted run left.
"""

import argparse
import contextlib
import io
import os
from pathlib import Path
import shlex
import time
import typing as tp

import yaml

from ..utils.errors import BeatLMError


@contextlib.contextmanager
def working_directory(path: Path) -> tp.Iterator[None]:
    """Run the block with `path` as the current directory, then go back."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def load_pipeline(path: tp.Union[str, Path]) -> tp.Tuple[Path, tp.List[tp.Tuple[str, tp.Dict[str, tp.Any]]]]:
    """(working directory, [(step, options), ...]) of a pipeline YAML.

    Raises:
        BeatLMError: A missing or malformed file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BeatLMError(f"{path} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise BeatLMError(f"cannot read {path}: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict) or "steps" not in data:
        raise BeatLMError(f"{path}: expected a mapping with `steps:` (see `beatlm data build --help`)")
    unknown = set(data) - {"steps", "workdir"}
    if unknown:
        raise BeatLMError(f"{path}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))} "
                          "(allowed: steps, workdir)")
    raw = data["steps"]
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(s, dict) and len(s) == 1 for s in raw):
        items = [next(iter(s.items())) for s in raw]
    else:
        raise BeatLMError(f"{path}: `steps` must map step names to options, or be a list of one-key mappings")
    steps = []
    for name, options in items:
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise BeatLMError(f"{path}: the options of step {name!r} must be a mapping, got {options!r}")
        steps.append((str(name), options))
    workdir = (path.parent / Path(str(data.get("workdir") or ".")).expanduser()).resolve()
    return workdir, steps


def step_parsers(parser: argparse.ArgumentParser) -> tp.Dict[str, argparse.ArgumentParser]:
    """The sub-parser of every step of a `beatlm data` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise ValueError("the parser has no steps")


def step_argv(name: str, options: tp.Mapping[str, tp.Any], parser: argparse.ArgumentParser) -> tp.List[str]:
    """Command-line arguments of a step from its YAML options (validated against the step's parser)."""
    positionals = [a for a in parser._actions if not a.option_strings]
    flags = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    argv: tp.List[str] = []
    given = {str(k).replace("-", "_"): v for k, v in options.items()}
    unknown = set(given) - set(flags) - {a.dest for a in positionals}
    if unknown:
        valid = [a.dest for a in positionals] + sorted(flags)
        raise BeatLMError(f"step {name}: unknown option(s) {', '.join(sorted(unknown))} (valid: {', '.join(valid)})")
    for action in positionals:
        if action.dest in given and given[action.dest] is not None:
            argv.append(_text(given[action.dest]))
    for dest, value in given.items():
        if dest not in flags or value is None or value is False:
            continue
        flag = max(flags[dest].option_strings, key=len)
        argv.extend([flag] if value is True else [flag, _text(value)])
    return argv


def _text(value: tp.Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def run_pipeline(path: tp.Union[str, Path], make_parser: tp.Callable[[], argparse.ArgumentParser],
                 only: tp.Optional[tp.Sequence[str]] = None, start: tp.Optional[str] = None, dry_run: bool = False,
                 echo: tp.Callable[[str], None] = print) -> tp.List[tp.Tuple[str, float]]:
    """Run the steps of a pipeline YAML in order; returns (step, seconds) of each step run.

    Args:
        path: The pipeline YAML.
        make_parser: Builds the `beatlm data` parser whose sub-commands are the steps.
        only: Run just these steps (in the file's order).
        start: Skip the steps before this one.
        dry_run: Print the commands without running them.
        echo: Where progress lines go.
    Raises:
        BeatLMError: A malformed file, an unknown step or option, or a step that fails (named).
    """
    workdir, steps = load_pipeline(path)
    parser = make_parser()
    parsers = step_parsers(parser)
    names = [name for name, _ in steps]
    for name in names + list(only or []) + ([start] if start else []):
        if name not in parsers or name == "build":
            valid = ", ".join(n for n in parsers if n != "build")
            raise BeatLMError(f"{path}: unknown step {name!r} (steps: {valid})")
    if start:
        steps = steps[names.index(start):]
    if only:
        steps = [(name, options) for name, options in steps if name in only]
    commands = [(name, [name] + step_argv(name, options, parsers[name])) for name, options in steps]
    if not workdir.is_dir() and not dry_run:
        workdir.mkdir(parents=True)
    timings = []
    for number, (name, argv) in enumerate(commands, 1):
        echo(f"== step {number}/{len(commands)}: beatlm data {shlex.join(argv)}  (in {workdir})")
        if dry_run:
            continue
        begin = time.monotonic()
        with working_directory(workdir):
            _run_step(name, argv, parser)
        timings.append((name, time.monotonic() - begin))
        echo(f"== {name} finished in {timings[-1][1]:.1f} s")
    return timings


def _run_step(name: str, argv: tp.List[str], parser: argparse.ArgumentParser) -> None:
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = parser.parse_args(argv)
    except SystemExit:
        lines = [line for line in errors.getvalue().splitlines() if line.strip()]
        raise BeatLMError(f"step {name}: {lines[-1] if lines else 'invalid options'}") from None
    try:
        code = args.run(args) or 0
    except BeatLMError as exc:
        raise BeatLMError(f"step {name}: {exc}") from None
    if code:
        raise BeatLMError(f"step {name} exited with code {code}; fix it and run the same build again "
                          "(finished work is skipped)")
