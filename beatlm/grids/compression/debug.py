"""A minimal grid to try the grid machinery on: two micro codecs of 2 epochs of 2 updates (a minute on a
laptop CPU), like audiocraft's `compression/debug`.

    beatlm grid run compression.debug
    dora grid compression.debug --dry_run    # the table, afterwards

Data comes from the user's grid settings (`all` or `compression.debug` section, e.g. `dset: beats/<name>`).
"""

from .._base_explorers import setup
from ._explorers import CodecExplorer

TINY = {"model_scale": "micro", "optim.epochs": 2, "optim.updates_per_epoch": 2, "rvq.kmeans_iters": 2,
        "dataset.valid.num_samples": 2, "dataset.evaluate.num_samples": 2, "dataset.generate.num_samples": 1,
        "dataset.generate.segment_duration": 1}


@CodecExplorer
def explorer(launcher):
    setup(launcher, "compression.debug", solver="compression/beats", extra=TINY)
    with launcher.job_array():
        launcher()
        launcher({"rvq.bins": 512})
