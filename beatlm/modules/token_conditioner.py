"""The previous stage's tokens as a time-aligned condition of the next stage (MusicLM's acoustic conditioning).

MusicLM's coarse stage is conditioned on the semantic tokens of the same clip, and its fine stage on
the coarse codebooks. Both run on the same clock as the tokens being modelled, so the condition is a
sequence: `TokenSequenceConditioner` embeds K streams of tokens (one learned table per stream, summed)
and resamples them to the LM's frame rate (e.g. 25 Hz semantic tokens -> 50 Hz codec frames, each
semantic token covering two frames). `AlignedConditionFuser` (modules/fusers.py) then adds frame `t`
of it to the LM input at the step that predicts frame `t`.

audiocraft carries such conditions as `wav` attributes (a `WavCondition`, as MusicGen's chroma); its
`ConditioningProvider` mixes a condition's channels down to mono, so `token_condition` lays the K
streams out frame-major on one channel (`[t0k0, t0k1, ..., t1k0, ...]`) and the conditioner unfolds
them. A nullified condition (length 0, audiocraft's classifier-free-guidance dropout) embeds to zeros
with a zero mask.
"""

import math
import typing as tp

from audiocraft.modules.conditioners import ConditionType, WavCondition, WaveformConditioner
import torch
from torch import nn


def token_condition(tokens: torch.Tensor, frame_rate: float) -> WavCondition:
    """One item's tokens as a `WavCondition` for `TokenSequenceConditioner`.

    Args:
        tokens: Tokens [K, T] (K streams) or [T] (one stream).
        frame_rate: Tokens per second of each stream.
    """
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2:
        raise ValueError(f"expected tokens [K, T] or [T], got {tuple(tokens.shape)}")
    num_streams, frames = tokens.shape
    wav = tokens.t().reshape(1, 1, frames * num_streams).float()
    return WavCondition(wav=wav, length=torch.tensor([frames * num_streams], device=tokens.device),
                        sample_rate=[frame_rate], path=[None], seek_time=[None])


class TokenSequenceConditioner(WaveformConditioner):
    """K streams of tokens at `frame_rate`, embedded and resampled to `target_frame_rate`: [B, T', output_dim].

    Args:
        output_dim: Width of the conditioning vectors (the LM's model dimension).
        device: Device of the tables.
        num_streams: Streams (codebooks) per frame.
        cardinality: Tokens per stream.
        frame_rate: Frames per second of the tokens.
        target_frame_rate: Frames per second of the LM conditioned on them.
    """

    def __init__(self, output_dim: int, device: tp.Union[str, torch.device], num_streams: int, cardinality: int,
                 frame_rate: float, target_frame_rate: float):
        super().__init__(dim=output_dim, output_dim=output_dim, device=device)
        self.output_proj = nn.Identity()  # the tables are already output_dim wide
        self.num_streams = num_streams
        self.cardinality = cardinality
        self.frame_rate = frame_rate
        self.target_frame_rate = target_frame_rate
        self.emb = nn.ModuleList([nn.Embedding(cardinality, output_dim, device=device) for _ in range(num_streams)])
        for table in self.emb:
            nn.init.normal_(table.weight, std=0.02)

    def tokenize(self, x: WavCondition) -> WavCondition:
        device = self.emb[0].weight.device
        return WavCondition(x.wav.to(device), x.length.to(device), x.sample_rate, x.path, x.seek_time)

    def embed_tokens(self, tokens: torch.Tensor, lengths: tp.Optional[torch.Tensor] = None) -> ConditionType:
        """Embeddings [B, T', output_dim] and mask [B, T'] of tokens [B, K, T] with `lengths` [B] valid frames.

        T' = ceil(T * target_frame_rate / frame_rate); target frame `t` shows token frame
        floor(t * frame_rate / target_frame_rate). Frames past an item's length (0 for the null
        condition) embed to zeros, masked.
        """
        if tokens.dim() != 3 or tokens.shape[1] != self.num_streams:
            raise ValueError(f"expected tokens [B, {self.num_streams}, T], got {tuple(tokens.shape)}")
        device = self.emb[0].weight.device
        batch, _, frames = tokens.shape
        if lengths is None:
            lengths = torch.full((batch,), frames, device=device)
        target = math.ceil(frames * self.target_frame_rate / self.frame_rate - 1e-6)
        source = (torch.arange(target, device=device) * self.frame_rate / self.target_frame_rate).floor().long()
        source = source.clamp(max=max(frames - 1, 0))
        tokens = tokens.to(device=device, dtype=torch.long).clamp(0, self.cardinality - 1)[..., source]
        embeds = sum(self.emb[k](tokens[:, k]) for k in range(self.num_streams))
        mask = source[None, :] < lengths.to(device)[:, None]
        return embeds * mask[..., None].to(embeds.dtype), mask.float()

    def forward(self, x: WavCondition) -> ConditionType:
        wav, length = x.wav, x.length.reshape(-1)
        batch = wav.shape[0]
        if length.numel() == 1 and batch > 1:
            length = length.expand(batch)
        k = self.num_streams
        frames = wav.shape[-1] // k
        tokens = wav[:, 0, :frames * k].round().long().reshape(batch, frames, k).transpose(1, 2)
        return self.embed_tokens(tokens, torch.div(length, k, rounding_mode="floor"))
