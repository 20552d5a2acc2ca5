"""`beatlm grid list|run|best`: Dora grids on a machine without SLURM.

`dora grid <name>` launches a grid's experiments through SLURM. Here `beatlm grid run <name>` runs the
same experiments (same signatures) one after another, or `--parallel N` at a time, as `dora run`
processes; `dora grid <name> --dry_run` shows their metrics table afterwards. `beatlm grid best`
picks the best complete experiment by a logged metric.
"""

import argparse
import typing as tp

from ..utils.errors import BeatLMError

PATTERNS_HELP = "only the experiments whose name matches every pattern (dora grid's filters; !P excludes, N picks)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("grid", help="run Dora grids (sweeps) here and pick the best experiment",
                            description="Dora grids without SLURM. Data, parts and scale of the experiments come "
                                        "from <config dir>/grids/settings.yaml (see README: Sweeps with Dora grids).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = actions.add_parser("list", help="the grids, or one grid's experiments and their progress")
    p.add_argument("grid", nargs="?", help="grid name, e.g. musiclm.semantic_sweep")
    p.add_argument("patterns", nargs="*", help=PATTERNS_HELP)
    p.set_defaults(run=run_list)

    p = actions.add_parser("run", help="run a grid's experiments here (complete ones are skipped, others resume)",
                           description="Run every incomplete experiment of a grid as `dora run <its overrides>`: the "
                                       "signatures `dora grid` gives them, so `dora grid NAME --dry_run` shows their "
                                       "metrics afterwards. Interrupted runs resume from their last epoch when run "
                                       "again. Each run's output goes to grid_run.log in its XP folder.")
    p.add_argument("grid", help="grid name, e.g. musiclm.semantic_sweep")
    p.add_argument("patterns", nargs="*", help=PATTERNS_HELP)
    p.add_argument("--parallel", type=int, default=1, help="experiments run at once (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per experiment (default: the cores divided by --parallel)")
    p.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
    p.set_defaults(run=run_run)

    p = actions.add_parser("best", help="the best complete experiment of a grid by a logged metric",
                           description="Rank the complete experiments of a grid by the best value of a metric over "
                                       "their epochs, and print the best one's signature and overrides.")
    p.add_argument("grid", help="grid name, e.g. musiclm.semantic_sweep")
    p.add_argument("patterns", nargs="*", help=PATTERNS_HELP)
    p.add_argument("--metric", required=True, help="<stage>/<name> as the solver logs it, e.g. valid/ce, valid/loss, "
                                                   "evaluate/recall@10")
    p.add_argument("--mode", choices=("min", "max"), default="min",
                   help="min for losses (default), max for accuracies and recalls")
    p.add_argument("--top", type=int, default=5, help="experiments shown in the ranking (default 5)")
    p.add_argument("--save", action="store_true",
                   help="save the pick to <config dir>/grids/best/GRID.yaml (what coarse/fine sweeps start from)")
    p.set_defaults(run=run_best)


def run_list(args: argparse.Namespace) -> int:
    from ..grids import _local
    if args.grid is None:
        for name in _local.grid_names():
            print(name)
        return 0
    _, sheeps = _local.list_experiments(args.grid, args.patterns)
    _print_progress(sheeps)
    return 0


def _print_progress(sheeps: tp.Sequence[tp.Any]) -> None:
    from ..grids import _local
    for index, sheep in enumerate(sheeps):
        done, total = _local.progress(sheep)
        state = "complete" if _local.is_complete(sheep) else "not started" if not done else "partial"
        print(f"{index:3d} {sheep.xp.sig} {done}/{total} epochs  {state:11s} {_local.describe(sheep)}")


def run_run(args: argparse.Namespace) -> int:
    from ..grids import _local
    if args.parallel < 1:
        raise BeatLMError(f"--parallel must be at least 1, got {args.parallel}")
    if args.threads is not None and args.threads < 1:
        raise BeatLMError(f"--threads must be at least 1, got {args.threads}")
    explorer, sheeps = _local.list_experiments(args.grid, args.patterns, init=not args.dry_run)
    if args.dry_run:
        print(f"grid {args.grid}: {len(sheeps)} experiments")
        _print_progress(sheeps)
        todo = [sheep for sheep in sheeps if not _local.is_complete(sheep)]
        print(f"would run {len(todo)}, {args.parallel} at a time")
        return 0
    print(f"grid {args.grid}: {len(sheeps)} experiments, {args.parallel} at a time")
    runner = _local.LocalRunner(args.grid, sheeps, parallel=args.parallel, threads=args.threads)
    try:
        jobs = runner.run()
    except KeyboardInterrupt:
        print(f"run `beatlm grid run {args.grid}` again to resume", flush=True)
        raise
    _local.show_table(args.grid, explorer, sheeps)
    print(_local.summary(jobs))
    return 1 if any(job.status == "failed" for job in jobs) else 0


def run_best(args: argparse.Namespace) -> int:
    from ..grids import _local, _settings
    _, sheeps = _local.list_experiments(args.grid, args.patterns)
    ranked, incomplete = _local.rank(args.grid, sheeps, args.metric, args.mode)
    value, epoch, best = ranked[0]
    print(f"best of {len(ranked)} complete experiments of {args.grid} by {args.metric} ({args.mode})"
          + (f"; {len(incomplete)} incomplete left out" if incomplete else "") + ":")
    print(f"  sig        {best.xp.sig}")
    print(f"  {args.metric:<10s} {value:.6g} (epoch {epoch})")
    print(f"  name       {_local.describe(best)}")
    print(f"  overrides  {' '.join(best.xp.argv)}")
    print(f"  folder     {best.xp.folder}")
    print("ranking:")
    for position, (other, other_epoch, sheep) in enumerate(ranked[:max(1, args.top)], 1):
        print(f"  {position:2d}. {sheep.xp.sig} {other:.6g} (epoch {other_epoch})  {_local.describe(sheep)}")
    if args.save:
        path = _settings.save_best(args.grid, {"grid": args.grid, "metric": args.metric, "mode": args.mode,
                                               "value": value, "epoch": epoch, "sig": best.xp.sig,
                                               "overrides": list(best.xp.argv)})
        print(f"saved to {path}")
    return 0
