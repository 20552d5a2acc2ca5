"""`beatlm plan --model-scale full --gpus 32`: parameters, memory per GPU and tokens per step of each solver,
from its real modules built at meta device (see beatlm/planning)."""

import argparse
import typing as tp

from ..utils.errors import BeatLMError

GiB = 1024 ** 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..planning import SOLVERS
    parser = sub.add_parser(
        "plan", help="parameters, memory per GPU and tokens per step of a training run",
        description="Build each solver's models at meta device (no memory, no weights) from the config `dora run "
                    "solver=... model_scale=SCALE` composes, and print parameter counts, memory per GPU (fp32 "
                    "weights, gathered FSDP parameters, gradients, optimiser states, activations measured on one "
                    "forward pass of a GPU's batch) and tokens per training step. dataset.batch_size is the "
                    "global batch: each GPU gets batch_size / GPUS.")
    parser.add_argument("--model-scale", default="full", help="micro, small or full (default full)")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs the run is spread over (default: the config's "
                                                              "slurm.gpus)")
    parser.add_argument("--solver", action="append", choices=list(SOLVERS),
                        help="plan this solver only (repeat for several; default: all)")
    parser.add_argument("overrides", nargs="*", help="config overrides as for dora run, e.g. dataset.batch_size=128")
    parser.set_defaults(run=run)


def _gib(value: float) -> str:
    return f"{value / GiB:.2f}"


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:.0f}"


def plan_solver(name: str, scale: str, gpus: tp.Optional[int], overrides: tp.Sequence[str]) -> tp.Dict[str, tp.Any]:
    """Everything `beatlm plan` prints for one solver (also used by the tests)."""
    from ..planning import memory, models
    cfg = models.solver_config(name, scale, overrides)
    gpus = int(cfg.slurm.gpus) if gpus is None else gpus
    if gpus < 1:
        raise BeatLMError(f"--gpus must be at least 1, got {gpus}")
    batch = int(cfg.dataset.batch_size)
    if batch % gpus:
        example = max(gpus, batch // gpus * gpus)
        raise BeatLMError(f"{name}: batch size {batch} does not split over {gpus} GPUs (dataset.batch_size is the "
                          f"global batch): pick a multiple of {gpus}, e.g. dataset.batch_size={example}")
    built = models.build(name, cfg)
    plan = memory.memory_plan(cfg, built.trained, built.forward, batch // gpus, gpus)
    return {"name": name, "solver": models.SOLVERS[name], "cfg": cfg, "gpus": gpus, "batch": batch,
            "batch_per_gpu": batch // gpus, "memory": plan, "tokens": built.tokens,
            "modules": {key: memory.count_parameters([module])[0] for key, module in built.trained.items()}}


def format_plan(result: tp.Dict[str, tp.Any]) -> tp.List[str]:
    """The lines `beatlm plan` prints for one solver."""
    mem, cfg = result["memory"], result["cfg"]
    parts = ", ".join(f"{key} {_count(value)}" for key, value in result["modules"].items())
    lines = [f"{result['name']} (solver={result['solver']}, {result['gpus']} GPUs, FSDP {mem.fsdp}, "
             f"compute {str(mem.compute_dtype).replace('torch.', '')})",
             f"  parameters      {_count(mem.parameters)} ({parts}); trained {_count(mem.trained)}",
             f"  batch           {result['batch']} per step, {result['batch_per_gpu']} per GPU"
             + (f", {float(cfg.dataset.segment_duration):g} s each" if cfg.dataset.get("segment_duration") else "")]
    for what, per_item in result["tokens"].items():
        lines.append(f"  {what + ' / step':<15s} {_count(per_item * result['batch'])} "
                     f"({_count(per_item * result['batch_per_gpu'])} per GPU, {_count(per_item)} per item)")
    lines += [f"  memory per GPU  {_gib(mem.total)} GiB: weights {_gib(mem.weights)}, gathered {_gib(mem.gathered)}, "
              f"gradients {_gib(mem.gradients)}, optimiser {_gib(mem.optimizer)}, activations {_gib(mem.activations)} "
              f"(attention maps {_gib(mem.attention)})"
              + (f", EMA {_gib(mem.ema)}" if mem.ema_on_gpu else "")]
    if mem.ema and not mem.ema_on_gpu:
        lines.append(f"  host memory     EMA {_gib(mem.ema)} GiB (optim.ema.device: cpu)")
    mem_per_gpu = cfg.slurm.get("mem_per_gpu")
    return lines + ([f"  slurm           gpus {cfg.slurm.gpus}, mem_per_gpu {mem_per_gpu} GB, partition "
                     f"{cfg.slurm.partition or '(team default)'}, time {cfg.slurm.time} min"])


def run(args: argparse.Namespace) -> int:
    from ..planning import SOLVERS
    names = args.solver or list(SOLVERS)
    print(f"plan for model_scale={args.model_scale}" + (f" on {args.gpus} GPUs" if args.gpus else "")
          + " (modules built at meta device; activations: tensors saved for backward by one forward pass)")
    for name in names:
        print("\n".join(format_plan(plan_solver(name, args.model_scale, args.gpus, args.overrides))))
    return 0
