"""The coarse and fine sweeps: the best semantic settings, then the learning rate and dropout around them.

The plan: "start with the hyperparameters from the best SemanticTransformer and adjust as needed".
The best semantic experiment is read from its saved pick (`beatlm grid best musiclm.semantic_sweep
--metric valid/ce --save`), not recomputed at each listing: a grid whose experiments changed whenever the
semantic sweep gained an epoch would make `dora grid` cancel the ones it no longer lists.
"""

import typing as tp

from dora import Launcher

from .. import _settings
from .._base_explorers import setup
from .semantic_sweep import TUNED

LR_FACTORS = [0.5, 1.0, 1.5]  # times the best semantic learning rate
DROPOUT_STEPS = [0.0, 0.1]  # added to the best semantic dropout (capped at the plan's 0.3)


def sweep_from_semantic(launcher: Launcher, grid: str, solver: str) -> None:
    """Schedule `solver`'s experiments around the saved best settings of `musiclm.semantic_sweep`."""
    best = _settings.load_best("musiclm.semantic_sweep", TUNED, needed_by=grid)
    setup(launcher, grid, solver=solver, family="stages",
          extra={key: value for key, value in best.items() if key == "transformer_lm.num_layers"})
    lr = float(best.get("optim.lr", 2e-3))
    dropout = float(best.get("transformer_lm.dropout", 0.1))
    seen: tp.Set[tp.Tuple[float, float]] = set()
    with launcher.job_array():
        for factor in LR_FACTORS:
            for step in DROPOUT_STEPS:
                point = (round(lr * factor, 8), round(min(dropout + step, max(dropout, 0.3)), 4))
                if point not in seen:
                    seen.add(point)
                    launcher({"optim.lr": point[0], "transformer_lm.dropout": point[1]})
