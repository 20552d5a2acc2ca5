"""Memory per GPU of a training step: weights, gradients, optimiser states and activations.

Parameters are counted on the real modules. Activations are measured, not estimated: one training
forward pass runs at meta device (shapes only) for one GPU's batch, and every tensor autograd saves
for the backward pass is counted once (a view counts as the tensor it views; parameters are left
out). Attention maps ([..., T, T]) are also reported apart: at meta device attention runs PyTorch's
math path, which keeps them (in float32), where a GPU's flash / memory-efficient kernels keep none.
FSDP (audiocraft's `fsdp.use`, PyTorch FSDP with mixed precision) keeps fp32 parameters, gradients
and optimiser states sharded over the GPUs, and computes in `fsdp.param_dtype`: with `shard_grad_op`
(the only strategy audiocraft's wrapper accepts) the gathered low-precision parameters stay from the
forward pass to the end of the backward pass; with `full_shard` only the largest wrapped block does
(twice, with prefetching). Without FSDP every GPU holds everything (DDP).
"""

from dataclasses import dataclass
import typing as tp

import omegaconf
import torch
from torch import nn

# Optimiser states per trained parameter (fp32 each).
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "lion": 1, "sgd": 1, "dadam": 3}


def count_parameters(modules: tp.Iterable[nn.Module]) -> tp.Tuple[int, int]:
    """(parameters, trained parameters) of `modules`, each shared parameter counted once."""
    seen: tp.Dict[int, nn.Parameter] = {}
    for module in modules:
        for param in module.parameters():
            seen[id(param)] = param
    return (sum(p.numel() for p in seen.values()), sum(p.numel() for p in seen.values() if p.requires_grad))


class SavedActivations(tp.NamedTuple):
    """Bytes autograd saves for backward: all of them, and those that are attention maps (`[..., T, T]`)."""
    total: int
    attention: int


def _root(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor a view was taken of (itself if it is none): at meta device views get storages of their own."""
    while tensor._base is not None:
        tensor = tensor._base
    return tensor


def saved_activation_bytes(modules: tp.Iterable[nn.Module], forward: tp.Callable[[], torch.Tensor]) -> SavedActivations:
    """Bytes of the tensors autograd saves for backward while `forward()` runs, each tensor once (views
    count as what they view), parameters and buffers of `modules` (and views of them) excluded."""
    excluded = {id(t) for module in modules for t in list(module.parameters()) + list(module.buffers())}
    seen: tp.Dict[int, tp.Tuple[int, bool]] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        root = _root(tensor)
        # Saved tensors stay referenced by the graph until `forward` returns: their ids are unique meanwhile.
        if id(root) not in excluded and id(root) not in seen:
            square = root.dim() >= 3 and root.shape[-1] == root.shape[-2] > 1
            seen[id(root)] = (root.numel() * root.element_size(), square)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = forward()
    del loss
    return SavedActivations(sum(size for size, _ in seen.values()),
                            sum(size for size, square in seen.values() if square))


def largest_block(modules: tp.Iterable[nn.Module], per_block: bool) -> int:
    """Parameters of the largest unit FSDP gathers at once: a transformer layer or conditioning provider
    (audiocraft's wrap policy with `fsdp.per_block`), else the whole model."""
    from audiocraft.modules.conditioners import ConditioningProvider
    from audiocraft.modules.transformer import StreamingTransformerLayer
    modules = list(modules)
    total = count_parameters(modules)[0]
    if not per_block:
        return total
    blocks = [m for module in modules for m in module.modules()
              if isinstance(m, (StreamingTransformerLayer, ConditioningProvider))]
    if not blocks:
        return total
    inner = sum(count_parameters([block])[0] for block in blocks)
    return max([count_parameters([block])[0] for block in blocks] + [total - inner])


@dataclass
class MemoryPlan:
    """Bytes per GPU of one training step (see the module docstring), and the settings they assume."""
    parameters: int
    trained: int
    weights: float  # fp32 parameters (sharded with FSDP)
    gathered: float  # low-precision parameters FSDP gathers for compute (0 without FSDP)
    gradients: float
    optimizer: float
    activations: float  # saved for backward, attention maps included
    attention: float  # of which attention maps
    ema: float  # EMA copy of the trained weights (fp32), on the GPU unless optim.ema.device is cpu
    ema_on_gpu: bool
    compute_dtype: torch.dtype
    fsdp: str  # sharding strategy, or 'off'

    @property
    def total(self) -> float:
        ema = self.ema if self.ema_on_gpu else 0.0
        return self.weights + self.gathered + self.gradients + self.optimizer + self.activations + ema


def compute_dtype(cfg: omegaconf.DictConfig) -> torch.dtype:
    """The dtype activations are kept in: FSDP's `param_dtype`, else the autocast dtype, else `dtype`."""
    if cfg.fsdp.use:
        return getattr(torch, cfg.fsdp.param_dtype)
    return getattr(torch, cfg.autocast_dtype if cfg.autocast else cfg.dtype)


def memory_plan(cfg: omegaconf.DictConfig, modules: tp.Dict[str, nn.Module], forward: tp.Callable[[int], torch.Tensor],
                batch_per_gpu: int, gpus: int) -> MemoryPlan:
    """Memory per GPU for training `modules` on `gpus` GPUs with `batch_per_gpu` items each.

    Args:
        cfg: The solver's config (`fsdp`, `optim`, `dtype`, `autocast`).
        modules: The trained modules, at meta device (cast to the compute dtype here).
        forward: One training forward pass for a batch size, returning the loss.
        batch_per_gpu: Items per GPU and step.
        gpus: GPUs the run is spread over.
    """
    params, trained = count_parameters(modules.values())
    dtype = compute_dtype(cfg)
    shards = gpus if cfg.fsdp.use else 1
    states = OPTIMIZER_STATES.get(str(cfg.optim.optimizer).lower(), 2)
    gathered = 0.0
    if cfg.fsdp.use:
        size = torch.finfo(dtype).bits // 8
        if cfg.fsdp.sharding_strategy == "full_shard":
            gathered = 2.0 * largest_block(modules.values(), bool(cfg.fsdp.per_block)) * size
        elif cfg.fsdp.sharding_strategy == "no_shard":
            shards = 1
            gathered = float(params * size)
        else:
            gathered = float(params * size)
    for module in modules.values():
        module.to(dtype)
    try:
        saved = saved_activation_bytes(modules.values(), lambda: forward(batch_per_gpu))
    finally:
        for module in modules.values():
            module.to(torch.float32)
    ema = 4.0 * trained if cfg.optim.ema.use else 0.0
    ema_on_gpu = bool(cfg.optim.ema.use) and str(cfg.optim.ema.device) != "cpu"
    return MemoryPlan(params, trained, weights=4.0 * params / shards, gathered=gathered,
                      gradients=4.0 * trained / shards, optimizer=4.0 * states * trained / shards,
                      activations=float(saved.total), attention=float(saved.attention), ema=ema,
                      ema_on_gpu=ema_on_gpu, compute_dtype=dtype,
                      fsdp=str(cfg.fsdp.sharding_strategy) if cfg.fsdp.use else "off")
