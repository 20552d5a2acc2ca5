"""Bend: musiclm-pytorch's audio tower evaluates its position-bias MLP once per pair of patches per clip.

`AudioSpectrogramTransformer` turns the 2-d distance of every pair of patches into an attention bias
with a small MLP (`dynamic_pos_bias_mlp`). With patch dropout each clip keeps its own patches, so the
MLP runs on [B, n, n, 2] distances: 64 clips of 93 kept patches are 553k rows, although a 10 s
window (4 x 31 patches) has only 7 x 61 = 427 distinct distances. On one CPU core that MLP (its SiLUs
alone) took about 15% of a micro MuLaN training step (0.55 s of 3.6 s, profiled).

`install(audio_tower)` re-types that one `nn.Sequential` as `DistinctRowsMLP`: the same layers and
parameter names (checkpoints load unchanged), evaluated once per distinct distance and gathered back;
the gather's backward sums the gradients of equal rows, so values and gradients are the MLP's.
"""

import torch
from torch import nn


class DistinctRowsMLP(nn.Sequential):
    """`nn.Sequential` whose layers but the last (a rearrange) run once per distinct 2-d integer distance.

    The MLP runs on every integer point of the distances' bounding box (7 x 61 for a 10 s window), and
    each pair takes its point's output by index (no sort).
    """

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        if distances.is_meta or distances.shape[-1] != 2:  # shapes only (`beatlm plan`), or not 2-d distances
            return super().forward(distances)
        flat = distances.reshape(-1, 2)
        if not bool((flat == flat.round()).all()):  # not the patch grid: the plain MLP
            return super().forward(distances)
        low = flat.amin(dim=0)
        span = (flat.amax(dim=0) - low + 1).long()
        rows = torch.stack(torch.meshgrid(torch.arange(int(span[0]), device=flat.device),
                                          torch.arange(int(span[1]), device=flat.device), indexing="ij"), dim=-1)
        out = rows.reshape(-1, 2).to(flat.dtype) + low
        for layer in list(self)[:-1]:
            out = layer(out)
        index = ((flat[:, 0] - low[0]) * span[1] + (flat[:, 1] - low[1])).long()
        out = out[index].reshape(*distances.shape[:-1], out.shape[-1])
        return self[-1](out)


def install(audio_tower: nn.Module) -> nn.Module:
    """Make `audio_tower.dynamic_pos_bias_mlp` a `DistinctRowsMLP` (in place); returns the tower."""
    mlp = audio_tower.dynamic_pos_bias_mlp
    if not isinstance(mlp, nn.Sequential):
        raise TypeError(f"musiclm-pytorch's dynamic_pos_bias_mlp is a {type(mlp).__name__}, not an nn.Sequential: "
                        "the ast_pos_bias bend needs revisiting")
    mlp.__class__ = DistinctRowsMLP
    return audio_tower
