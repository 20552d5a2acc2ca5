"""What BeatLM's solvers need from torch.distributed besides flashy's helpers (one process: no-ops)."""

import typing as tp

import flashy
import torch


def gather_objects(obj: tp.Any) -> tp.List[tp.Any]:
    """Every process's `obj` (picklable), in rank order, on every process; `[obj]` on one process."""
    if not flashy.distrib.is_distributed():
        return [obj]
    out: tp.List[tp.Any] = [None] * flashy.distrib.world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def global_sum(value: float) -> float:
    """`value` summed over processes."""
    tensor = torch.tensor([float(value)], dtype=torch.float64)
    flashy.distrib.all_reduce(tensor)
    return float(tensor)
