"""What BeatLM's grids read besides their own file: the user's grid settings and the saved best picks.

A grid lists experiments; the data and the frozen parts they train on are the user's. Both files live
in the user config folder (`$BEATLM_CONFIG_DIR`, default ~/.config/beatlm), are read each time a grid
is explored (by `dora grid` and `beatlm grid`), and every value in them goes into the experiments'
overrides, hence their signatures:

- `grids/settings.yaml`: overrides bound to every experiment of a grid, as `key: value` pairs in the
  `dora run` command-line form, in sections applied in this order: `all` (every grid), a family
  (`stages`: the semantic, coarse and fine sweeps) and the grid's own name (e.g. `musiclm.mulan_sweep`).
- `grids/best/<grid>.yaml`: the best experiment of a grid, written by `beatlm grid best <grid> --save`
  (metric, value, signature, overrides). Grids that start from another grid's best settings read it.
"""

from pathlib import Path
import typing as tp

from omegaconf import DictConfig, ListConfig, OmegaConf
import yaml

from ..utils.errors import BeatLMError
from ..utils.paths import user_config_dir


def settings_path() -> Path:
    """`<user config dir>/grids/settings.yaml`."""
    return user_config_dir() / "grids" / "settings.yaml"


def best_path(grid: str) -> Path:
    """`<user config dir>/grids/best/<grid>.yaml`, where `beatlm grid best <grid> --save` writes."""
    return user_config_dir() / "grids" / "best" / f"{grid}.yaml"


def _load_mapping(path: Path) -> DictConfig:
    try:
        cfg = OmegaConf.load(path)
    except Exception as exc:  # a YAML syntax error: name the file and the parser's first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BeatLMError(f"cannot read {path}: {first}") from None
    if isinstance(cfg, ListConfig):
        raise BeatLMError(f"{path} must hold a mapping, not a list")
    return cfg


def grid_overrides(grid: str, family: tp.Optional[str] = None) -> tp.Dict[str, tp.Any]:
    """The overrides `grids/settings.yaml` gives the experiments of `grid` (empty without the file).

    Args:
        grid: Grid name as given to `dora grid`, e.g. `musiclm.semantic_sweep`.
        family: Section shared by related grids (e.g. `stages`), applied after `all`, before `grid`.
    """
    path = settings_path()
    if not path.exists():
        return {}
    cfg = _load_mapping(path)
    out: tp.Dict[str, tp.Any] = {}
    for section in ("all", family, grid):
        if section is None or cfg.get(section) is None:
            continue
        values = cfg[section]
        if not isinstance(values, DictConfig):
            raise BeatLMError(f"{path}: section '{section}' must map override keys to values, "
                              f"e.g. `{section}: {{dset: beats/mycorpus}}`")
        out.update(OmegaConf.to_container(values, resolve=False))
    return out


def save_best(grid: str, record: tp.Mapping[str, tp.Any]) -> Path:
    """Write `record` (see `beatlm.grids._local.best_experiment`) as the best pick of `grid`."""
    path = best_path(grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    header = f"# The best experiment of grid {grid}, written by `beatlm grid best {grid} --save`.\n"
    tmp.write_text(header + OmegaConf.to_yaml(OmegaConf.create(dict(record))))
    tmp.replace(path)
    return path


def load_best(grid: str, keys: tp.Sequence[str], needed_by: str) -> tp.Dict[str, tp.Any]:
    """Values of `keys` in the saved best experiment of `grid` (its overrides, read as YAML values: 0.002, 5).

    Args:
        grid: The grid whose best pick is read.
        keys: Override keys wanted (keys the best experiment did not set are left out).
        needed_by: Name of the grid asking, for the error message.
    Raises:
        BeatLMError: No best pick saved for `grid` yet.
    """
    path = best_path(grid)
    if not path.exists():
        raise BeatLMError(f"grid {needed_by} starts from the best settings of {grid}, and none are saved: "
                          f"once {grid} has run, pick them with `beatlm grid best {grid} --metric valid/ce --save` "
                          f"(this writes {path})")
    overrides = _load_mapping(path).get("overrides")
    if overrides is None:
        raise BeatLMError(f"{path} has no `overrides` list: write it with `beatlm grid best {grid} --save`")
    found = {}
    for override in overrides:
        key, _, value = str(override).partition("=")
        if key in keys:
            found[key] = yaml.safe_load(value)
    return found
