"""Grids without SLURM: list a grid's experiments through Dora, run them here, pick the best.

Experiments are listed by Dora's own grid API (`dora.grid.run_grid` in dry-run mode: the explorer
called with a Dora `Launcher`), so they carry the signatures `dora grid` gives them, and each is run
as `python -m dora -P <package> run <its overrides>`: `dora grid <name> --dry_run` shows their metrics
afterwards, `dora run` on the same overrides resumes them. An experiment is complete when its history
holds `optim.epochs` epochs.
"""

from dataclasses import dataclass
import importlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
import typing as tp

from dora import Explorer
from dora.grid import RunGridArgs, monitor, run_grid
from dora.shep import Sheep

from ..utils.errors import BeatLMError
from ._base_explorers import best_value, total_epochs

LOG_NAME = "grid_run.log"  # in the XP folder: the output of each local run, appended


def _main():
    from .. import train
    return train.main


def grid_names() -> tp.List[str]:
    """Every grid `dora grid` can find in the package (modules not starting with `_`)."""
    root = Path(__file__).resolve().parent
    return sorted(str(path.relative_to(root).with_suffix("")).replace(os.sep, ".") for path in root.rglob("*.py")
                  if not any(part.startswith("_") for part in path.relative_to(root).parts))


def load_explorer(grid: str) -> Explorer:
    """The explorer of grid `grid` (`musiclm.semantic_sweep`), looked up as `dora grid` does."""
    main = _main()
    package = main.dora.grid_package or f"{main.package}.grids"
    if not grid or any(not part or part.startswith("_") for part in grid.split(".")) or "/" in grid:
        raise BeatLMError(f"bad grid name '{grid}'; grids: {', '.join(grid_names())}")
    try:
        module = importlib.import_module(f"{package}.{grid}")
    except ModuleNotFoundError as exc:
        if exc.name and f"{package}.{grid}".startswith(exc.name):
            raise BeatLMError(f"no grid '{grid}' in {package}; grids: {', '.join(grid_names())}") from None
        raise
    explorer = getattr(module, "explorer", None)
    if not isinstance(explorer, Explorer):
        raise BeatLMError(f"{package}.{grid} has no `explorer` (a dora.Explorer): it is not a grid")
    return explorer


def _one_line_exit(exc: SystemExit) -> BeatLMError:
    """A `SystemExit("beatlm: error: ...")` (how BeatLM's Dora main and explorers stop) as a `BeatLMError`."""
    message = str(exc.code) if exc.code is not None else "stopped"
    return BeatLMError(message.removeprefix("beatlm: error: "))


def list_experiments(grid: str, patterns: tp.Sequence[str] = (), init: bool = False
                     ) -> tp.Tuple[Explorer, tp.List[Sheep]]:
    """The explorer of `grid` and its experiments (Dora sheeps), in grid order.

    Args:
        grid: Grid name.
        patterns: Dora's grid filters: name patterns (`!` negates) or indexes.
        init: Initialise the XP folders (`dora grid --init`): `//sig/<SIG>` works for them afterwards.
    """
    explorer = load_explorer(grid)
    args = RunGridArgs(patterns=list(patterns), dry_run=True, monitor=False, silent=True, init=init)
    try:
        sheeps = run_grid(_main(), explorer, grid, args=args)
    except SystemExit as exc:
        raise _one_line_exit(exc) from None
    if not sheeps:
        raise BeatLMError(f"grid {grid} lists no experiment" + (f" matching {' '.join(patterns)}" if patterns else ""))
    return explorer, sheeps


def history(sheep: Sheep) -> tp.List[dict]:
    """The metrics an experiment logged, one dict per epoch (Dora's `history.json`)."""
    return _main().get_xp_history(sheep.xp)


def progress(sheep: Sheep) -> tp.Tuple[int, tp.Optional[int]]:
    """(epochs done, epochs to train) of an experiment."""
    return len(history(sheep)), total_epochs(sheep)


def is_complete(sheep: Sheep) -> bool:
    done, total = progress(sheep)
    return total is not None and done >= total


def describe(sheep: Sheep) -> str:
    """Dora's short name of an experiment: its overrides."""
    return _main().get_name(sheep.xp)


def show_table(grid: str, explorer: Explorer, sheeps: tp.List[Sheep]) -> None:
    """Print the metrics table `dora grid` shows (Dora's `monitor`, with the grid's explorer)."""
    print(f"Grid {grid}:")
    monitor(RunGridArgs(), _main(), explorer, sheeps, print)


# ---- running -----------------------------------------------------------------------------------

@dataclass
class Job:
    """One experiment run here."""
    index: int
    sheep: Sheep
    process: tp.Optional[subprocess.Popen] = None
    log: tp.Optional[tp.IO] = None
    start: float = 0.0
    seen_epochs: int = 0
    status: str = "pending"  # pending / running / done / failed / interrupted / skipped


def dora_command(sheep: Sheep, threads: tp.Optional[int]) -> tp.List[str]:
    """`python -m dora -P <package> run <the experiment's overrides>` (`num_threads` is not in signatures)."""
    main = _main()
    argv = list(sheep.xp.argv)
    if threads and not any(arg.startswith("num_threads=") for arg in argv):
        argv.append(f"num_threads={threads}")
    return [sys.executable, "-m", "dora", "-P", main.package, "run", *argv]


def _last_metric(sheep: Sheep) -> str:
    entries = history(sheep)
    if not entries:
        return ""
    valid = entries[-1].get("valid", {})
    shown = [f"valid/{key} {valid[key]:.4f}" for key in ("ce", "loss", "sisnr") if isinstance(valid.get(key), float)]
    return ", ".join(shown)


class LocalRunner:
    """Runs a grid's experiments as local `dora run` processes, `parallel` at a time.

    Args:
        grid: Grid name (for messages).
        sheeps: The experiments, from `list_experiments`.
        parallel: Experiments run at once.
        threads: torch threads per experiment (None: the cores split between the parallel runs).
        echo: Where progress lines go.
        poll: Seconds between checks of the running processes.
    """

    def __init__(self, grid: str, sheeps: tp.List[Sheep], parallel: int = 1, threads: tp.Optional[int] = None,
                 echo: tp.Callable[[str], None] = print, poll: float = 1.0):
        if parallel < 1:
            raise BeatLMError(f"--parallel must be at least 1, got {parallel}")
        self.grid = grid
        self.jobs = [Job(i, sheep) for i, sheep in enumerate(sheeps)]
        self.parallel = parallel
        self.threads = threads or max(1, (os.cpu_count() or 1) // parallel)
        self.echo = echo
        self.poll = poll

    def _tag(self, job: Job) -> str:
        return f"[{job.index + 1}/{len(self.jobs)}] {job.sheep.xp.sig}"

    def _start(self, job: Job) -> None:
        _main().init_xp(job.sheep.xp)
        done, total = progress(job.sheep)
        job.log = open(job.sheep.xp.folder / LOG_NAME, "a")
        job.log.write(f"\n==== beatlm grid run {self.grid}: {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        job.log.flush()
        # A session of its own: Ctrl-C reaches the runner only, which then stops each run once, cleanly.
        job.process = subprocess.Popen(
            dora_command(job.sheep, self.threads), stdout=job.log, stderr=subprocess.STDOUT, env=dict(os.environ),
            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        job.start, job.seen_epochs, job.status = time.time(), done, "running"
        resumed = f", resuming at epoch {done + 1}" if done else ""
        self.echo(f"{self._tag(job)} started ({done}/{total} epochs{resumed}): {describe(job.sheep)}")

    def _check(self, job: Job) -> bool:
        """Report new epochs of a running job; True once its process has ended."""
        assert job.process is not None
        done, total = progress(job.sheep)
        if done > job.seen_epochs:
            job.seen_epochs = done
            metric = _last_metric(job.sheep)
            self.echo(f"{self._tag(job)} epoch {done}/{total}" + (f": {metric}" if metric else ""))
        code = job.process.poll()
        if code is None:
            return False
        assert job.log is not None
        job.log.close()
        elapsed = time.time() - job.start
        if code == 0 and is_complete(job.sheep):
            job.status = "done"
            self.echo(f"{self._tag(job)} done in {elapsed:.0f} s")
        else:
            job.status = "failed"
            log = job.sheep.xp.folder / LOG_NAME
            tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-8:]
            self.echo(f"{self._tag(job)} FAILED (exit code {code}) after {elapsed:.0f} s; log: {log}")
            for line in tail:
                self.echo(f"    {line}")
        return True

    def _stop(self, running: tp.List[Job]) -> None:
        self.echo(f"interrupted: stopping {len(running)} run(s) (each keeps its last finished epoch)")
        for job in running:
            assert job.process is not None
            job.process.send_signal(signal.SIGINT)
        deadline = time.time() + 120
        for job in running:
            assert job.process is not None
            try:
                job.process.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
            if job.log is not None:
                job.log.close()
            job.status = "interrupted"

    def run(self) -> tp.List[Job]:
        """Run every incomplete experiment; returns the jobs with their final status."""
        pending = []
        for job in self.jobs:
            if is_complete(job.sheep):
                job.status = "skipped"
                self.echo(f"{self._tag(job)} already complete: {describe(job.sheep)}")
            else:
                pending.append(job)
        running: tp.List[Job] = []
        try:
            while pending or running:
                while pending and len(running) < self.parallel:
                    job = pending.pop(0)
                    self._start(job)
                    running.append(job)
                time.sleep(self.poll)
                running = [job for job in running if not self._check(job)]
        except KeyboardInterrupt:
            self._stop(running)
            raise
        return self.jobs


def summary(jobs: tp.Sequence[Job]) -> str:
    """One line: how many experiments ran, were already complete, failed."""
    count = {status: sum(job.status == status for job in jobs) for status in ("done", "skipped", "failed")}
    return (f"{len(jobs)} experiments: {count['done']} run to completion now, {count['skipped']} already complete, "
            f"{count['failed']} failed")


# ---- picking the best --------------------------------------------------------------------------

def available_metrics(histories: tp.Iterable[tp.Sequence[dict]]) -> tp.List[str]:
    """Every `stage/name` with a number in the histories."""
    names = set()
    for entries in histories:
        for entry in entries:
            for stage, values in entry.items():
                if isinstance(values, dict):
                    names.update(f"{stage}/{key}" for key, value in values.items() if isinstance(value, (int, float)))
    return sorted(names)


def rank(grid: str, sheeps: tp.Sequence[Sheep], metric: str, mode: str = "min"
         ) -> tp.Tuple[tp.List[tp.Tuple[float, int, Sheep]], tp.List[Sheep]]:
    """Complete experiments ranked by the best value of `metric` over their epochs (best first), and the
    incomplete ones (left out).

    Args:
        grid: Grid name (for messages).
        sheeps: The grid's experiments.
        metric: `stage/name` as logged in Dora's history, e.g. `valid/ce`.
        mode: `min` (losses) or `max` (accuracies, recalls).
    Raises:
        BeatLMError: A metric without a `/`, a bad mode, no complete experiment, or a metric none logged.
    """
    if mode not in ("min", "max"):
        raise BeatLMError(f"--mode must be min or max, got '{mode}'")
    if "/" not in metric:
        raise BeatLMError(f"--metric must be <stage>/<name> as logged, e.g. valid/ce, got '{metric}'")
    complete = [sheep for sheep in sheeps if is_complete(sheep)]
    incomplete = [sheep for sheep in sheeps if not is_complete(sheep)]
    if not complete:
        started = sum(1 for sheep in sheeps if history(sheep))
        raise BeatLMError(f"no complete experiment in grid {grid} ({len(sheeps)} listed, {started} started): "
                          f"run them first with `beatlm grid run {grid}`")
    ranked = []
    for sheep in complete:
        found = best_value(history(sheep), metric, mode)
        if found is not None:
            ranked.append((found[0], found[1], sheep))
    if not ranked:
        names = available_metrics(history(sheep) for sheep in complete)
        raise BeatLMError(f"no complete experiment of grid {grid} logged {metric}; logged: {', '.join(names)}")
    ranked.sort(key=lambda item: item[0], reverse=mode == "max")
    return ranked, incomplete
