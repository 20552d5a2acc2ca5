"""What every BeatLM grid shares: binding the user's settings, SLURM settings from the config, and
an explorer base that shows progress and best validation values in `dora grid`'s table."""

import dataclasses
import math
import typing as tp

from audiocraft.grids._base_explorers import BaseExplorer
from dora import Launcher
from dora.conf import SlurmConfig
from omegaconf import DictConfig, OmegaConf

from ..utils.errors import BeatLMError
from . import _settings


def total_epochs(sheep) -> tp.Optional[int]:
    """Epochs an experiment trains for (`optim.epochs` of its config)."""
    try:
        return int(sheep.xp.cfg.optim.epochs)
    except Exception:  # an XP whose config has no epochs count (not one of BeatLM's solvers)
        return None


def best_value(entries: tp.Sequence[dict], metric: str, mode: str) -> tp.Optional[tp.Tuple[float, int]]:
    """(best value, its epoch, 1-based) of `stage/name` over an experiment's history, or None."""
    stage, _, name = metric.partition("/")
    values = [(float(entry[stage][name]), epoch) for epoch, entry in enumerate(entries, 1)
              if isinstance(entry.get(stage), dict) and isinstance(entry[stage].get(name), (int, float))
              and not math.isnan(float(entry[stage][name]))]
    if not values:
        return None
    return (min if mode == "min" else max)(values, key=lambda pair: pair[0])


class BeatLMExplorer(BaseExplorer):
    """audiocraft's explorer base, plus: `train.epoch` reads `done/total`, each `(stage, metric)` of
    `best_metrics` also shows its best value over epochs as `best_<metric>`, and a `BeatLMError` raised
    while listing experiments ends `dora grid` with one line instead of a traceback."""

    best_metrics: tp.Dict[tp.Tuple[str, str], str] = {}  # (stage, metric) -> 'min' or 'max'

    def __call__(self, launcher: Launcher):
        try:
            self.explore(launcher)
        except BeatLMError as exc:
            raise SystemExit(f"beatlm: error: {exc}") from None

    def process_sheep(self, sheep, history):
        parts = super().process_sheep(sheep, history)
        total = total_epochs(sheep)
        if total is not None:
            parts["train"]["epoch"] = f"{len(history)}/{total}"
        for (stage, metric), mode in self.best_metrics.items():
            best = best_value(history, f"{stage}/{metric}", mode)
            if best is not None:
                parts.setdefault(stage, {})[f"best_{metric}"] = best[0]
        return parts


def slurm_settings(cfg: DictConfig) -> tp.Dict[str, tp.Any]:
    """The `slurm` section of a composed config (model scale and grid settings included), with audiocraft's
    per-cluster adjustments; an empty partition becomes the team's (config/teams)."""
    from audiocraft.environment import AudioCraftEnvironment
    from audiocraft.utils.cluster import get_slurm_parameters
    slurm = get_slurm_parameters(cfg.slurm.copy())
    values = {key: value for key, value in OmegaConf.to_container(slurm, resolve=True).items() if value is not None}
    if not values.get("partition"):
        partitions = AudioCraftEnvironment.get_slurm_partitions(["team", "global"]).split(",")
        values["partition"] = ",".join(dict.fromkeys(partitions))  # the team's, then the global one, once each
    unknown = sorted(set(values) - {field.name for field in dataclasses.fields(SlurmConfig)})
    if unknown:
        raise BeatLMError(f"slurm.{unknown[0]} is not a SLURM setting Dora knows "
                          f"(known: {', '.join(field.name for field in dataclasses.fields(SlurmConfig))})")
    return values


def setup(launcher: Launcher, grid: str, solver: str, family: tp.Optional[str] = None,
          extra: tp.Optional[tp.Mapping[str, tp.Any]] = None) -> Launcher:
    """Bind `solver`, the user's settings for `grid` (see `_settings`) and `extra`, and give the launcher
    the SLURM settings of the config they compose (`slurm:` in config.yaml, the model scale or the
    settings), as audiocraft's grids pass theirs to `launcher.slurm_`.

    Args:
        launcher: The launcher Dora gives the explorer (changed in place and returned).
        grid: This grid's name (`musiclm.semantic_sweep`), the section of the settings it reads.
        solver: Solver config, e.g. `musiclm/semantic`.
        family: Settings section shared with related grids (e.g. `stages`).
        extra: Overrides every experiment of this grid gets, after the settings.
    Raises:
        BeatLMError: The settings leave a required value (`???`) unset, or name an unknown SLURM setting.
    """
    from .. import train
    overrides = {"solver": solver, **_settings.grid_overrides(grid, family), **dict(extra or {})}
    try:
        cfg = train.main._get_config(train.main.value_to_argv(overrides))
    except SystemExit as exc:  # BeatLM's Dora main reports a bad override as one line: say where it came from
        raise BeatLMError(f"{str(exc.code).removeprefix('beatlm: error: ')} (in the overrides of grid {grid}, "
                          f"from {_settings.settings_path()})") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        section = family or grid
        raise BeatLMError(f"grid {grid}: {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no value: set "
                          f"{'it' if len(missing) == 1 else 'them'} in {_settings.settings_path()}, section "
                          f"`{section}:` (e.g. `{section}: {{{missing[0]}: /path}}`)")
    launcher.bind_(overrides)
    launcher.slurm_(**slurm_settings(cfg))
    return launcher
