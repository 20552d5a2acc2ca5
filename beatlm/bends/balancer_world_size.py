"""Bend: audiocraft's loss balancer trains N processes unlike one process with the same global batch.

`audiocraft.losses.Balancer` (the codec's) scales the gradient of each loss with respect to the decoded
audio by `total_norm / (average gradient norm per item)`. Each process measures those norms on the
gradient of its own mean loss, whose items weigh 1/b instead of 1/B (b = B / N items per process):
the norms, averaged over processes, come out N times those of one process with the global batch, and
the scales N times too small. The balanced part of the gradient (and the effective loss, `g_loss`)
is then 1/N of one process's, while the losses outside the balancer (the quantizer's commitment
penalty) keep their weight: the mix, and with it training, changes with the number of processes.

We multiply `total_norm` (the scales are proportional to it) by the number of processes for the
call, which gives every scale, the step and `g_loss` of one process with the global batch. On one
process, or without gradient balancing (`balancer.balance_grads=false`: a plain weighted sum of mean
losses, already right), nothing changes.
"""

import typing as tp

import flashy

_original: tp.Dict[str, tp.Callable] = {}


def _backward(self, losses, input):
    world = flashy.distrib.world_size()
    if world == 1 or not self.balance_grads:
        return _original["backward"](self, losses, input)
    total_norm = self.total_norm
    self.total_norm = total_norm * world
    try:
        return _original["backward"](self, losses, input)
    finally:
        self.total_norm = total_norm


def apply() -> None:
    """Install the wrapper on `Balancer.backward` (idempotent)."""
    from audiocraft.losses.balancer import Balancer
    if not _original:
        _original["backward"] = Balancer.backward
        Balancer.backward = _backward  # type: ignore[method-assign]
