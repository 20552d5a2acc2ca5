"""Bend: `audiocraft.train` cannot be imported, and would point at the wrong Dora folder if it could.

audiocraft's `train.py` decorates its main with `hydra_main(config_path='../config')`, a folder its
install lacks, so `import audiocraft.train` raises `MissingConfigException`. Several audiocraft
functions import it lazily to reach the Dora main: `utils.checkpoint.resolve_checkpoint_path`
(`//sig/...` paths, used by `continue_from` and `CompressionSolver.model_from_checkpoint`) and
`StandardSolver.get_eval_solver_from_sig`. We register `beatlm.train` under that name: it has the
same public functions (`main`, `get_solver`, `get_solver_from_xp`, `get_solver_from_sig`), so those
audiocraft paths resolve signatures against BeatLM's Dora folder and solver registry.
"""

import sys


def apply() -> None:
    """Make `audiocraft.train` (module and package attribute) be `beatlm.train`."""
    import audiocraft

    from beatlm import train
    sys.modules["audiocraft.train"] = train
    audiocraft.train = train  # type: ignore[attr-defined]
