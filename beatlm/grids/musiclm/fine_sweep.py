"""The fine stage, from the best semantic settings: their layers; learning rate x0.5 / x1 / x1.5 and
dropout +0 / +0.1 around theirs (up to 6 experiments).

    beatlm grid best musiclm.semantic_sweep --metric valid/ce --save   # first, once the semantic sweep ran
    dora grid musiclm.fine_sweep --dry_run --init
    beatlm grid run musiclm.fine_sweep

Data, frozen parts and scale come from the user's grid settings (`stages` section, see `beatlm.grids._settings`).
"""

from ._explorers import StageExplorer
from ._from_semantic import sweep_from_semantic


@StageExplorer
def explorer(launcher):
    sweep_from_semantic(launcher, "musiclm.fine_sweep", solver="musiclm/fine")
