"""MuLaN: learning rate x plateau factor (the plan: reduce the rate by 0.1-0.5 when validation plateaus).

    dora grid musiclm.mulan_sweep --dry_run --init    # list the 9 experiments
    beatlm grid run musiclm.mulan_sweep               # run them here, one after another
    beatlm grid best musiclm.mulan_sweep --metric valid/loss

Data and scale come from the user's grid settings (see `beatlm.grids._settings`).
"""

from .._base_explorers import setup
from ._explorers import MulanExplorer

LEARNING_RATES = [2.5e-4, 5e-4, 1e-3]
PLATEAU_FACTORS = [0.1, 0.3, 0.5]


@MulanExplorer
def explorer(launcher):
    setup(launcher, "musiclm.mulan_sweep", solver="musiclm/mulan")
    launcher.bind_({"schedule.lr_scheduler": "plateau"})  # micro's default is cosine
    with launcher.job_array():
        for lr in LEARNING_RATES:
            for factor in PLATEAU_FACTORS:
                launcher({"optim.lr": lr, "schedule.plateau.factor": factor})
