"""Bend: Dora prints a Hydra traceback for a mistyped config name or override.

`dora run solver=foo` (or `model_scale=huge`, `foo.bar=1`) fails while Dora composes the config,
before BeatLM's main runs, and Dora shows the whole Hydra stack. `HydraMain` is Dora's class with
composition errors turned into one line that names the mistake and the valid choices.

Dora's `_compare_config` keeps its key path in a mutable default argument; an error raised while it
walks a config (a `???` value) leaves that list dirty and corrupts every later signature computed
in the same process. `get_xp` clears it when composition fails.

Dora computes a signature from the difference between the config composed from the group choices
alone (`solver=...`) and the full one, reading every value of the former: a required `???` value
there (a solver's `compression_model_checkpoint: ???`) raises even when the command line sets it.
`_get_delta` compares such values as a plain marker instead.
"""

from pathlib import Path
import typing as tp

from dora import hydra as dora_hydra
from dora.hydra import HydraMain as _DoraHydraMain
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from beatlm.utils.paths import user_config_dir


def config_choices(config_dirs: tp.Sequence[Path], group: str) -> tp.List[str]:
    """Names selectable as `<group>=<name>`: YAML files under `<dir>/<group>/`, in every config dir."""
    names = set()
    for root in config_dirs:
        folder = root / group
        names.update(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))
    return sorted(names)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


_REQUIRED = "<required>"


def _without_missing(cfg: DictConfig) -> DictConfig:
    """`cfg` with every `???` value replaced by a plain marker (interpolations are kept as they are)."""
    def walk(node: tp.Any) -> tp.Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return _REQUIRED if node == "???" else node
    return OmegaConf.create(walk(OmegaConf.to_container(cfg, resolve=False)))


class HydraMain(_DoraHydraMain):
    """Dora's `HydraMain`; a config that cannot be composed exits with one clear line."""

    def get_xp(self, argv: tp.Sequence[str]):
        try:
            return super().get_xp(argv)
        except MissingMandatoryValue as exc:
            if OmegaConf.is_missing(self._base_cfg, "solver") and not any(a.startswith("solver=") for a in argv):
                raise SystemExit("beatlm: error: no solver chosen: pass solver=<group>/<name>, "
                                 "e.g. solver=compression/beats model_scale=micro dset=<data>") from None
            raise SystemExit(f"beatlm: error: {exc.full_key} has no value (??? in the config); "
                             f"pass {exc.full_key}=<value>") from None
        finally:
            dora_hydra._compare_config.__defaults__[0].clear()  # see the module docstring

    def _get_delta(self, init: DictConfig, other: DictConfig):
        missing = sorted(OmegaConf.missing_keys(other))
        if missing:  # a value the command line left unset: say which (get_xp turns it into one line)
            exc = MissingMandatoryValue(f"Missing mandatory value: {missing[0]}")
            exc.full_key = missing[0]
            raise exc
        return super()._get_delta(_without_missing(init), other)

    def _get_config_noinit(self, overrides: tp.List[str] = []) -> DictConfig:
        try:
            return super()._get_config_noinit(overrides)
        except MissingConfigException as exc:
            missing = exc.missing_cfg_file or ""
            group, _, name = missing.partition("/")
            for override in overrides:  # `solver=compression/x` misses 'solver/compression/x'
                key, _, value = override.partition("=")
                if f"{key.lstrip('+~')}/{value}" == missing:
                    group, name = key.lstrip("+~"), value
            dirs = [Path(self.full_config_path), user_config_dir()]
            choices = ", ".join(config_choices(dirs, group)) if group else ""
            raise SystemExit(f"beatlm: error: no config '{missing}.yaml' for {group}={name}; "
                             f"available: {choices or 'none'}") from None
        except (ConfigCompositionException, OverrideParseException) as exc:
            cause = f": {_first_line(exc.__cause__)}" if exc.__cause__ else ""
            raise SystemExit(f"beatlm: error: {_first_line(exc)}{cause} "
                             "(check the spelling; new keys need a leading '+')") from None


def hydra_main(config_name: str, config_path: str, **kwargs) -> tp.Callable[[tp.Callable], HydraMain]:
    """`dora.hydra_main`, building the `HydraMain` above."""
    def _decorator(main: tp.Callable) -> HydraMain:
        return HydraMain(main, config_name=config_name, config_path=config_path, **kwargs)
    return _decorator
