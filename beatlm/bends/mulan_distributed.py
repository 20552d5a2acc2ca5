"""Bend: musiclm-pytorch's contrastive losses fail, or are wrong, across processes.

With torch.distributed initialised, musiclm-pytorch 0.2.8 gathers latents from every process so that
each item meets the whole global batch as negatives, but:

- its gather (`musiclm_pytorch.distributed.all_gather_variable_dim`) calls `exists`, which that
  module never defines: every step fails with a NameError, softmax and sigmoid losses alike;
- `SoftmaxContrastiveLearning` would then mask the positives of the decoupled loss (BeatLM's default)
  with an eye of the *local* batch size against a similarity matrix of the *global* one;
- the softmax gather returns only the local slice of the gradient while every process computes the
  same global loss: once gradients are averaged over processes (`flashy.distrib.sync_model`), the towers
  would get 1/N of the global gradient and the temperature all of it; the sigmoid loss gives each
  process the loss of its own rows only (1/N of the global loss, normalised by the global batch).

We replace both losses' forwards: audio and text latents are gathered from every process with a
gradient summed over processes, and musiclm-pytorch's own loss then runs on the global batch as on one
process. Every process gets the global loss; averaged, the gradients are the global gradient. On one
process nothing changes. N processes sharing a global batch thus give the loss and the gradients of
one process with that batch, up to float rounding (`tests/bends/test_mulan_distributed.py`).
"""

import typing as tp

import torch
import torch.distributed as dist

_originals: tp.Dict[str, tp.Callable] = {}


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _GatherSummingGrads(torch.autograd.Function):
    """Concatenate every process's tensor along `dim` (sizes may differ); the backward sums the gradient
    over processes and returns this process's slice of it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int) -> torch.Tensor:  # type: ignore[override]
        world, rank = dist.get_world_size(), dist.get_rank()
        size = torch.tensor([x.shape[dim]], dtype=torch.long, device=x.device)
        sizes = [torch.zeros_like(size) for _ in range(world)]
        dist.all_gather(sizes, size)
        counts = [int(s) for s in sizes]
        padded = torch.nn.functional.pad(x, [0, 0] * (x.dim() - 1 - dim) + [0, max(counts) - x.shape[dim]])
        pieces = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(pieces, padded.contiguous())
        ctx.dim, ctx.counts, ctx.rank = dim, counts, rank
        return torch.cat([piece.narrow(dim, 0, count) for piece, count in zip(pieces, counts)], dim=dim)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tp.Tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)  # every process differentiated the same global loss
        start = sum(ctx.counts[:ctx.rank])
        return grad.narrow(ctx.dim, start, ctx.counts[ctx.rank]), None


def _as_layers(latents: torch.Tensor) -> torch.Tensor:
    return latents[None] if latents.ndim == 2 else latents  # [batch, dim] -> [1, batch, dim], as musiclm does


def _global_forward(name: str) -> tp.Callable:
    def forward(self, audio_latents: torch.Tensor, text_latents: torch.Tensor) -> torch.Tensor:
        original = _originals[name]
        if _world_size() == 1:
            return original(self, audio_latents, text_latents)
        audio = _GatherSummingGrads.apply(_as_layers(audio_latents), 1)
        text = _GatherSummingGrads.apply(_as_layers(text_latents), 1)
        gather, was = self.all_gather, self.all_gather.is_distributed
        gather.is_distributed = False  # the original forward now sees the global batch as on one process
        try:
            return original(self, audio, text)
        finally:
            gather.is_distributed = was
    return forward


def apply() -> None:
    """Install the forwards (idempotent); imports musiclm-pytorch through `musiclm_offline`."""
    if _originals:
        return
    from . import musiclm_offline
    musiclm_offline.apply()
    from musiclm_pytorch import musiclm_pytorch as mp
    for name, klass in (("softmax", mp.SoftmaxContrastiveLearning), ("sigmoid", mp.SigmoidContrastiveLearning)):
        _originals[name] = klass.forward
        klass.forward = _global_forward(name)
