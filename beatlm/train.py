"""The Dora main of BeatLM: `dora run solver=<name> model_scale=<scale> dset=<data>`.

Dora finds it as the package's `train` module (`-P beatlm`, `DORA_PACKAGE=beatlm`, or from the repo
root). It mirrors `audiocraft.train` (same public functions) and is registered in its place so
audiocraft's own `//sig/` resolution uses BeatLM's Dora folder (see `beatlm.bends.audiocraft_train`).
"""

import logging
import multiprocessing
import os
import random
import sys
import typing as tp

from dora import XP, git_save
import flashy
import hydra
import omegaconf

from . import bends

bends.apply()

from audiocraft.environment import AudioCraftEnvironment  # noqa: E402
from audiocraft.utils.cluster import get_slurm_parameters  # noqa: E402

from .bends.dora_config_errors import hydra_main  # noqa: E402
from .utils.errors import BeatLMError  # noqa: E402

logger = logging.getLogger(__name__)


def resolve_config_dset_paths(cfg: omegaconf.DictConfig) -> None:
    """Make manifest paths absolute, so that a Dora git-save clone still finds them."""
    for key, value in cfg.datasource.items():
        if isinstance(value, str):
            cfg.datasource[key] = git_save.to_absolute_path(value)


def resolve_device(cfg: omegaconf.DictConfig) -> None:
    """Turn `device=auto` into `cuda` when a GPU is visible, else `cpu`."""
    if cfg.device == "auto":
        import torch
        cfg.device = "cuda" if torch.cuda.is_available() else "cpu"


def get_solver(cfg: omegaconf.DictConfig):
    """Build the solver for `cfg`: per-rank batch sizes, checked data, then the solver registry."""
    from . import solvers
    from .data.checks import check_datasource
    world_size = flashy.distrib.world_size()
    for node in [cfg.dataset] + [cfg.dataset[split] for split in ["train", "valid", "evaluate", "generate"]
                                 if split in cfg.dataset]:
        if node.get("batch_size") is not None:
            if node.batch_size % world_size:
                raise BeatLMError(f"batch size {node.batch_size} does not split over {world_size} processes")
            node.batch_size //= world_size
    resolve_device(cfg)
    resolve_config_dset_paths(cfg)
    check_datasource(cfg)
    return solvers.get_solver(cfg)


def get_solver_from_xp(xp: XP, override_cfg: tp.Optional[tp.Union[dict, omegaconf.DictConfig]] = None,
                       restore: bool = True, load_best: bool = True,
                       ignore_state_keys: tp.List[str] = [], disable_fsdp: bool = True):
    """Return the solver of an experiment, restored from its last checkpoint (audiocraft's API).

    Args:
        xp: Dora experiment.
        override_cfg: Nested dict merged into the XP config (does not change the signature).
        restore: Restore the last checkpoint.
        load_best: Load the best state instead of the last one.
        ignore_state_keys: State sources not to load, e.g. `optimizer`.
        disable_fsdp: Turn FSDP off (then the FSDP-sharded states are ignored).
    """
    logger.info("Loading solver from XP %s. Overrides used: %s", xp.sig, xp.argv)
    cfg = xp.cfg
    if override_cfg is not None:
        cfg = omegaconf.OmegaConf.merge(cfg, omegaconf.DictConfig(override_cfg))
    if disable_fsdp and cfg.fsdp.use:
        cfg.fsdp.use = False
        assert load_best is True
        ignore_state_keys = ignore_state_keys + ["model", "ema", "best_state"]
    try:
        with xp.enter():
            solver = get_solver(cfg)
            if restore:
                solver.restore(load_best=load_best, ignore_state_keys=ignore_state_keys)
        return solver
    finally:
        hydra.core.global_hydra.GlobalHydra.instance().clear()


def get_solver_from_sig(sig: str, *args, **kwargs):
    """Return the solver of the experiment with Dora signature `sig` (see `get_solver_from_xp`)."""
    xp = main.get_xp_from_sig(sig)
    return get_solver_from_xp(xp, *args, **kwargs)


def default_num_threads() -> int:
    """Torch threads per process when `num_threads` is empty: the cores shared by the processes of this node
    (`dora run -d`, torchrun), at most 8. Two processes of two threads each on two cores spend their time
    spinning in OpenMP barriers (a micro semantic update took 1.5 s instead of 0.1 s)."""
    from dora.distrib import get_distrib_spec
    spec = get_distrib_spec()
    per_node = max(1, spec.world_size // max(1, spec.num_nodes))
    return max(1, min(8, (os.cpu_count() or 1) // per_node))


def init_seed_and_system(cfg: omegaconf.DictConfig) -> None:
    """Seed every RNG and set threads, start method, attention backend and allocator from the config."""
    from audiocraft.modules.transformer import set_efficient_attention_backend
    import numpy as np
    import torch

    resolve_device(cfg)
    if cfg.get("malloc_mmap_threshold"):
        from .utils.memory import limit_heap_growth
        limit_heap_growth(int(cfg.malloc_mmap_threshold))
    if cfg.get("malloc_trim_interval"):
        from .utils.memory import trim_heap_every
        trim_heap_every(float(cfg.malloc_trim_interval))
    method = cfg.mp_start_method
    if method == "auto":  # CUDA cannot be forked; on CPU fork avoids re-importing audiocraft per worker
        method = "forkserver" if str(cfg.device).startswith("cuda") else "fork"
    multiprocessing.set_start_method(method, force=True)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    num_threads = cfg.num_threads or default_num_threads()
    torch.set_num_threads(num_threads)
    os.environ["MKL_NUM_THREADS"] = str(num_threads)
    os.environ["OMP_NUM_THREADS"] = str(num_threads)
    set_efficient_attention_backend(cfg.efficient_attention_backend)


def run(cfg: omegaconf.DictConfig) -> tp.Any:
    """Train (or run one stage of) the solver described by `cfg`, inside the current XP."""
    if omegaconf.OmegaConf.is_missing(cfg, "solver"):
        raise BeatLMError("no solver chosen: pass solver=<group>/<name>, e.g. solver=compression/beats")
    init_seed_and_system(cfg)
    log_name = "%s.log.{rank}" % cfg.execute_only if cfg.execute_only else "solver.log.{rank}"
    flashy.setup_logging(level=str(cfg.logging.level).upper(), log_name=log_name)
    # Dora's init defaults to NCCL, which needs GPUs: processes on CPU talk through gloo.
    flashy.distrib.init(backend="nccl" if str(cfg.device).startswith("cuda") else "gloo")
    solver = get_solver(cfg)
    if cfg.show:
        solver.show()
        return None
    if cfg.execute_only:
        if not (cfg.execute_inplace or cfg.continue_from is not None):
            raise BeatLMError("execute_only needs continue_from=<sig or path> (or execute_inplace=true)")
        solver.restore(replay_metrics=False)
        solver.run_one_stage(cfg.execute_only)
        return None
    return solver.run()


@hydra_main(config_path="config", config_name="config", version_base="1.3")
def main(cfg: omegaconf.DictConfig) -> tp.Any:
    try:
        return run(cfg)
    except BeatLMError as exc:
        logger.error("%s", exc)
        sys.exit(f"beatlm: error: {exc}")


main.dora.dir = AudioCraftEnvironment.get_dora_dir()
main._base_cfg.slurm = get_slurm_parameters(main._base_cfg.slurm)

if main.dora.shared is not None and not os.access(main.dora.shared, os.R_OK):
    print("No read permission on dora.shared folder, ignoring it.", file=sys.stderr)
    main.dora.shared = None

if __name__ == "__main__":
    main()
