"""The optimisation step every BeatLM solver takes (audiocraft's solvers write it inline each time)."""

import typing as tp

import torch


def optimize(loss: torch.Tensor, model: torch.nn.Module, optimizer: torch.optim.Optimizer, max_norm: float,
             metrics: tp.Dict[str, tp.Any], lr_scheduler: tp.Optional[tp.Any] = None) -> None:
    """Backward `loss`, clip the gradient norm of `model` (when `max_norm`), step, and log `grad_norm` and `lr`.

    Args:
        loss: The scalar to minimise.
        model: The module whose gradient norm is clipped.
        optimizer: Steps once.
        max_norm: Gradient norm clip (0 or None: no clipping, no `grad_norm` metric).
        metrics: Updated in place.
        lr_scheduler: Stepped once after the optimizer when given (per-update schedules).
    """
    optimizer.zero_grad()
    loss.backward()
    if max_norm:
        metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()
    optimizer.step()
    if lr_scheduler is not None:
        lr_scheduler.step()
    metrics["lr"] = optimizer.param_groups[0]["lr"]
