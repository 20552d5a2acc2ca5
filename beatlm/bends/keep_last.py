"""Bend: `checkpoint.keep_last` is ignored by audiocraft.

`StandardSolver.save_checkpoints` calls `flush_stale_checkpoints(path)` without `keep_last`, so the
per-epoch checkpoints written every `checkpoint.save_every` epochs are never removed. We wrap it to
flush with the configured `keep_last` after each save (for every solver, audiocraft's included).
"""

from audiocraft.solvers.base import StandardSolver
from audiocraft.utils import checkpoint as ac_checkpoint

_original = StandardSolver.save_checkpoints


def _save_checkpoints(self: StandardSolver) -> None:
    _original(self)
    keep_last = self.cfg.checkpoint.get("keep_last")
    if keep_last:
        ac_checkpoint.flush_stale_checkpoints(self.checkpoint_path(), keep_last=keep_last)


def apply() -> None:
    """Install the wrapper on `StandardSolver.save_checkpoints`."""
    StandardSolver.save_checkpoints = _save_checkpoints  # type: ignore[method-assign]
