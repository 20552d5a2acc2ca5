"""The semantic stage: learning rate x dropout x layers (the plan's ranges: 1e-3 to 3e-3, 0.1 to 0.3, 4 to 6).

    dora grid musiclm.semantic_sweep --dry_run --init    # list the 27 experiments
    beatlm grid run musiclm.semantic_sweep --parallel 2  # run them here
    beatlm grid best musiclm.semantic_sweep --metric valid/ce --save   # the pick coarse/fine start from

Data, frozen parts (codec, MuLaN, semantic tokenizer) and scale come from the user's grid settings
(`stages` section, see `beatlm.grids._settings`).
"""

from .._base_explorers import setup
from ._explorers import StageExplorer

LEARNING_RATES = [1e-3, 2e-3, 3e-3]
DROPOUTS = [0.1, 0.2, 0.3]
LAYERS = [4, 5, 6]
# What coarse_sweep and fine_sweep take from the best experiment of this grid.
TUNED = ("optim.lr", "transformer_lm.dropout", "transformer_lm.num_layers")


@StageExplorer
def explorer(launcher):
    setup(launcher, "musiclm.semantic_sweep", solver="musiclm/semantic", family="stages")
    with launcher.job_array():
        for lr in LEARNING_RATES:
            for dropout in DROPOUTS:
                for layers in LAYERS:
                    launcher({"optim.lr": lr, "transformer_lm.dropout": dropout, "transformer_lm.num_layers": layers})
