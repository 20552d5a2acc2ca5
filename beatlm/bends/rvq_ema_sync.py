"""Bend: audiocraft's RVQ codebooks learn from each process's own batch when training on several processes.

`audiocraft.quantization.core_vq.EuclideanCodebook` (the codec's residual VQ) updates its codebooks as
exponential moving averages of the code counts and code sums of the batch it sees. Across processes
each one folds in the statistics of its own share, and `flashy.distrib.sync_model` then averages
the buffers: the counts and sums come in at 1/N of the global batch's, and the codebooks (their ratio,
after Laplace smoothing) differ from one process with the global batch, as batch-norm statistics
would without synchronisation.

We sum the two statistics over processes before each moving average (what SyncBatchNorm does for
batch norm): every process then applies the global batch's update, exactly the one a single process
with that batch applies. On one process nothing changes. Still per process by design: the k-means
initialisation (run on rank 0's first batch, then broadcast by audiocraft) and dead-code restarts
(rank 0's batch samples).
"""

import typing as tp

import torch

_original: tp.Dict[str, tp.Callable] = {}


def _ema_inplace(moving_avg: torch.Tensor, new: torch.Tensor, decay: float) -> None:
    import flashy
    if flashy.distrib.is_distributed():
        new = new.contiguous().clone()
        flashy.distrib.all_reduce(new)
    _original["ema_inplace"](moving_avg, new, decay)


def apply() -> None:
    """Install the summed statistics in `core_vq` (idempotent)."""
    from audiocraft.quantization import core_vq
    if not _original:
        _original["ema_inplace"] = core_vq.ema_inplace
        core_vq.ema_inplace = _ema_inplace
