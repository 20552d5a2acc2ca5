"""The optimisation step every BeatLM solver takes (audiocraft's solvers write it inline each time)."""

import typing as tp

from audiocraft.solvers import builders
import flashy
import omegaconf
import torch
from torch.distributed.fsdp import FullyShardedDataParallel

from ..utils.errors import BeatLMError


def lr_scheduler(optimizer: torch.optim.Optimizer, schedule: omegaconf.DictConfig, updates: int) -> tp.Optional[tp.Any]:
    """audiocraft's per-update learning rate schedule (`schedule.lr_scheduler`: cosine, polynomial_decay, ...)
    over `updates`, or None; a schedule it cannot build (an unknown name, its `warmup` unset) is a BeatLMError.
    """
    try:
        return builders.get_lr_scheduler(optimizer, schedule, updates)
    except (ValueError, TypeError, AssertionError) as exc:
        name = schedule.lr_scheduler
        raise BeatLMError(f"schedule.lr_scheduler={name} cannot be built ({exc or type(exc).__name__}): "
                          f"use one of audiocraft's schedules (MuLaN also takes plateau), with schedule.{name}.warmup "
                          "set") from None


def optimize(loss: torch.Tensor, model: torch.nn.Module, optimizer: torch.optim.Optimizer, max_norm: float,
             metrics: tp.Dict[str, tp.Any], lr_scheduler: tp.Optional[tp.Any] = None,
             scaler: tp.Optional[tp.Any] = None) -> None:
    """Backward `loss`, average the gradients over processes, clip the gradient norm of `model` (when
    `max_norm`), step, and log `grad_norm` and `lr`.

    With several processes (`dora run -d`, torchrun), each one's `loss` is the mean over its share of the
    global batch: averaging the gradients (flashy's `sync_model`, as audiocraft's solvers do) gives the
    gradient of the global batch's mean, so clipping and the step match one process with that batch.
    A model wrapped with FSDP reduces its gradients itself; its buffers are averaged and its own
    `clip_grad_norm_` clips the sharded gradients (audiocraft's MusicGen solver does the same).

    Args:
        loss: The scalar to minimise.
        model: The module whose gradients are synchronised and whose gradient norm is clipped.
        optimizer: Steps once.
        max_norm: Gradient norm clip (0 or None: no clipping, no `grad_norm` metric).
        metrics: Updated in place.
        lr_scheduler: Stepped once after the optimizer when given (per-update schedules).
        scaler: Gradient scaler (float16 parameters under FSDP): scales the loss, unscales before clipping.
    """
    optimizer.zero_grad()
    (scaler.scale(loss) if scaler is not None else loss).backward()
    sharded = isinstance(model, FullyShardedDataParallel)
    if sharded:
        flashy.distrib.average_tensors(model.buffers())
    else:
        flashy.distrib.sync_model(model)
    if scaler is not None:
        scaler.unscale_(optimizer)
    if max_norm:
        if sharded:  # FSDP clips its sharded gradients itself
            norm = model.clip_grad_norm_(max_norm)
        else:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        metrics["grad_norm"] = float(norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    if lr_scheduler is not None:
        lr_scheduler.step()
    metrics["lr"] = optimizer.param_groups[0]["lr"]
