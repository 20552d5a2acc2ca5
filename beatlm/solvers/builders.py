"""The solver registry.

audiocraft's `solvers.builders.get_solver` is a closed literal of its own solvers. BeatLM keeps a
registry of its solvers (name -> `module:Class`, imported on first use) and falls back to
audiocraft's for every other name (`compression`, `musicgen`, ...), so one `solver:` key in the
config reaches both.
"""

import importlib
import typing as tp

import omegaconf

from ..utils.errors import BeatLMError

# BeatLM solver name -> "module:Class". Each later stage adds its line here.
_SOLVERS: tp.Dict[str, str] = {
    "compression": "beatlm.solvers.compression:CompressionSolver",
    "mulan": "beatlm.solvers.mulan:MulanSolver",
    "semantic_lm": "beatlm.solvers.semantic:SemanticSolver",
    "coarse_lm": "beatlm.solvers.coarse:CoarseSolver",
    "fine_lm": "beatlm.solvers.fine:FineSolver",
}
# The names audiocraft 1.3.0's `get_solver` literal accepts.
AUDIOCRAFT_SOLVERS = ("compression", "musicgen", "audiogen", "magnet", "audio_magnet", "lm", "diffusion", "sound_lm")


def register_solver(name: str, target: str) -> None:
    """Register a solver class under `name`.

    Args:
        name: Value of the `solver` key in the config.
        target: Import path of the class, as `"package.module:ClassName"`.
    """
    _SOLVERS[name] = target


def known_solvers() -> tp.List[str]:
    """Names of the solvers BeatLM registers itself (audiocraft's come on top)."""
    return sorted(_SOLVERS)


def get_solver_class(name: str) -> tp.Optional[type]:
    """The BeatLM solver class registered under `name`, or None if BeatLM has none of that name."""
    target = _SOLVERS.get(name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_solver(cfg: omegaconf.DictConfig):
    """Instantiate the solver named by `cfg.solver`: BeatLM's registry first, then audiocraft's."""
    klass = get_solver_class(cfg.solver)
    if klass is not None:
        return klass(cfg)
    if cfg.solver not in AUDIOCRAFT_SOLVERS:
        names = ", ".join(known_solvers() + list(AUDIOCRAFT_SOLVERS))
        raise BeatLMError(f"unknown solver '{cfg.solver}' (known: {names}); "
                          "pick a solver config with solver=<group>/<name>, e.g. solver=compression/beats")
    from audiocraft.solvers import builders as ac_builders
    return ac_builders.get_solver(cfg)
