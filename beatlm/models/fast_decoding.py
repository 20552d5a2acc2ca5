"""Fast sampling for BeatLM's stage LMs: audiocraft's `LMModel.generate`, with less work per step.

At micro size a decoding step is a few small matrix products, and the time goes to everything
around them: audiocraft's streaming modules call `nn.MultiheadAttention` (argument checks, a
causal mask rebuilt every step) and grow every key/value cache with `torch.cat`, through a dozen
module calls per layer. Measured here, that is about 4.5 ms per step for a 4-layer, 128-wide stage,
where the arithmetic takes well under 1 ms.

`generate` below follows `LMModel.generate` step for step: the same codebook pattern
(`build_pattern_sequence` / `revert_pattern_sequence`), the same conditions (the model's own
`condition_provider` with audiocraft's null conditions for guidance, prepended, and our fuser's
time-aligned conditions), the same guidance (`uncond + (cond - uncond) * cfg_coef`) and the same
samplers (`audiocraft.utils.utils.sample_top_k` / `sample_top_p`), so it consumes the random
generator as audiocraft does. The transformer step reads the model's own weights (nothing is
copied) and keeps keys and values in preallocated buffers. `unsupported(lm)` says when a model uses
a feature this path does not implement (then `MusicLM` uses audiocraft's `generate`);
tests/models/test_fast_decoding.py checks that logits and greedy tokens match audiocraft's.
"""

import typing as tp

from audiocraft.models import lm as ac_lm
from audiocraft.modules.transformer import create_sin_embedding
from audiocraft.utils import utils as ac_utils
import torch
from torch import nn
import torch.nn.functional as F

if tp.TYPE_CHECKING:
    from audiocraft.models.lm import LMModel


def unsupported(lm: "LMModel") -> tp.Optional[str]:
    """Why the fast path cannot run `lm` (a feature it does not implement), or None when it can."""
    t = lm.transformer
    if t.positional_embedding != "sin":
        return f"positional embedding {t.positional_embedding}"
    if lm.two_step_cfg:
        return "two-step guidance"
    methods = {method for method, names in lm.fuser.fuse2cond.items() if names}
    if not methods <= {"prepend", "aligned"}:
        return f"condition fusing {sorted(methods)}"
    for layer in t.layers:
        attn = layer.self_attn
        if attn.custom or attn.memory_efficient or attn.rope is not None or attn.past_context is not None:
            return "custom / memory-efficient / rotary / windowed attention"
        if attn.attention_as_float32 or attn.kv_repeat != 1 or attn.qk_layer_norm or not attn.causal:
            return "float32 attention, grouped keys, q/k norm or non-causal attention"
        if getattr(layer, "cross_attention", None) is not None or not layer.norm_first:
            return "cross-attention or post-norm layers"
        scales, norms = (layer.layer_scale_1, layer.layer_scale_2), (layer.norm1, layer.norm2)
        if not all(isinstance(m, nn.Identity) for m in scales) or not all(isinstance(m, nn.LayerNorm) for m in norms):
            return "layer scale or a norm other than LayerNorm"
    return None


class _Transformer:
    """The stage LM's transformer run step by step on its own weights, with preallocated key/value buffers."""

    def __init__(self, lm: "LMModel", batch: int, max_positions: int):
        self.lm = lm
        self.layers = list(lm.transformer.layers)
        first = self.layers[0].self_attn.mha
        self.heads = first.num_heads
        self.head_dim = first.embed_dim // self.heads
        param = next(lm.parameters())
        shape = (batch, self.heads, max_positions, self.head_dim)
        self.keys = [torch.empty(shape, dtype=param.dtype, device=param.device) for _ in self.layers]
        self.values = [torch.empty(shape, dtype=param.dtype, device=param.device) for _ in self.layers]
        t = lm.transformer
        positions = torch.arange(max_positions, device=param.device).view(1, -1, 1)
        self.positional = t.positional_scale * create_sin_embedding(positions, first.embed_dim,
                                                                    max_period=t.max_period, dtype=param.dtype)
        self.length = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, T, C] of the next T positions (causal over everything seen so far)."""
        batch, steps, dim = x.shape
        end = self.length + steps
        x = x + self.positional[:, self.length:end]
        causal = steps > 1
        if causal and self.length:
            raise ValueError("several positions at once are only supported at the start")
        for i, layer in enumerate(self.layers):
            mha = layer.self_attn.mha
            norm = layer.norm1
            h = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
            qkv = F.linear(h, mha.in_proj_weight, mha.in_proj_bias)
            q, k, v = qkv.view(batch, steps, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            self.keys[i][:, :, self.length:end] = k
            self.values[i][:, :, self.length:end] = v
            a = F.scaled_dot_product_attention(q, self.keys[i][:, :, :end], self.values[i][:, :, :end],
                                               is_causal=causal)
            x = x + F.linear(a.transpose(1, 2).reshape(batch, steps, dim), mha.out_proj.weight, mha.out_proj.bias)
            norm = layer.norm2
            h = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
            h = layer.activation(F.linear(h, layer.linear1.weight, layer.linear1.bias))
            x = x + F.linear(h, layer.linear2.weight, layer.linear2.bias)
        self.length = end
        return x


def _logits(lm: "LMModel", transformer: _Transformer, sequence: torch.Tensor,
            conditions: tp.Dict[str, tp.Any], start: int, aligned: tp.Optional[torch.Tensor]) -> torch.Tensor:
    """Logits [B, K, card] of the last position after feeding `sequence` [B, K, S] (input positions from `start`);
    `aligned` [B, positions, dim] is what the time-aligned conditions add at every input position."""
    x = sum(F.embedding(sequence[:, k], lm.emb[k].weight) for k in range(sequence.shape[1]))
    fuser = lm.fuser
    if aligned is not None:
        x = x + aligned[:, start:start + x.shape[1]]
    if start == 0:
        for name, (cond, _) in conditions.items():  # the order audiocraft's ConditionFuser prepends in
            if fuser.cond2fuse.get(name) == "prepend":
                x = torch.cat([cond, x], dim=1)
    out = transformer(x)[:, -1]
    if lm.out_norm is not None:
        norm = lm.out_norm
        out = F.layer_norm(out, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return torch.stack([F.linear(out, linear.weight, linear.bias) for linear in lm.linears], dim=1)


@torch.no_grad()
def generate(lm: "LMModel", prompt: tp.Optional[torch.Tensor] = None, conditions: tp.Sequence[tp.Any] = (),
             num_samples: tp.Optional[int] = None, max_gen_len: int = 256, use_sampling: bool = True,
             temp: float = 1.0, top_k: int = 250, top_p: float = 0.0, cfg_coef: tp.Optional[float] = None,
             callback: tp.Optional[tp.Callable[[int, int], None]] = None) -> torch.Tensor:
    """`LMModel.generate` (same arguments and result: codes [B, K, max_gen_len], prompt included) on the fast path.

    Raises:
        ValueError: the model uses a feature the fast path does not implement (see `unsupported`).
    """
    reason = unsupported(lm)
    if reason:
        raise ValueError(f"fast decoding does not support {reason}; use LMModel.generate")
    assert not lm.training, "generation shouldn't be used in training mode."
    device = next(lm.parameters()).device
    conditions = list(conditions)
    batch = prompt.shape[0] if prompt is not None else (len(conditions) or num_samples or 1)
    cfg_coef = lm.cfg_coef if cfg_coef is None else cfg_coef
    condition_tensors: tp.Dict[str, tp.Any] = {}
    if conditions:
        null = ac_lm.ClassifierFreeGuidanceDropout(p=1.0)(conditions)
        condition_tensors = lm.condition_provider(lm.condition_provider.tokenize(conditions + null))
    if prompt is None:
        prompt = torch.zeros((batch, lm.num_codebooks, 0), dtype=torch.long, device=device)
    start_offset = prompt.shape[-1]
    assert start_offset < max_gen_len
    pattern = lm.pattern_provider.get_pattern(max_gen_len)
    unknown = -1
    codes = torch.full((batch, lm.num_codebooks, max_gen_len), unknown, dtype=torch.long, device=device)
    codes[..., :start_offset] = prompt
    sequence, _, mask = pattern.build_pattern_sequence(codes, lm.special_token_id)
    first = pattern.get_first_step_with_timesteps(start_offset)
    assert first is not None
    length = sequence.shape[-1]
    prepended = sum(c.shape[1] for name, (c, _) in condition_tensors.items()
                    if lm.fuser.cond2fuse.get(name) == "prepend")
    guided = bool(condition_tensors)
    transformer = _Transformer(lm, batch * (2 if guided else 1), prepended + length)
    aligned = None
    if hasattr(lm.fuser, "add_aligned") and "aligned" in lm.fuser.fuse2cond and lm.fuser.fuse2cond["aligned"]:
        zeros = torch.zeros(transformer.keys[0].shape[0], length, lm.dim, device=device)
        aligned = lm.fuser.add_aligned(zeros, condition_tensors, 0)  # additive: computed once for all positions
    previous = 0
    for offset in range(first, length):
        current = sequence[..., previous:offset]
        if guided:
            current = torch.cat([current, current], dim=0)
        logits = _logits(lm, transformer, current, condition_tensors, previous, aligned)
        if guided:
            cond, uncond = logits.split(batch, dim=0)
            logits = uncond + (cond - uncond) * cfg_coef
        if use_sampling and temp > 0.0:
            probs = torch.softmax(logits / temp, dim=-1)
            if top_p > 0.0:
                token = ac_utils.sample_top_p(probs, p=top_p)
            elif top_k > 0:
                token = ac_utils.sample_top_k(probs, k=top_k)
            else:
                token = ac_utils.multinomial(probs, num_samples=1)
        else:
            token = torch.argmax(logits, dim=-1, keepdim=True)
        valid = mask[..., offset:offset + 1].expand(batch, -1, -1)
        token[~valid] = lm.special_token_id
        slot = sequence[..., offset:offset + 1]
        sequence[..., offset:offset + 1] = torch.where(slot == unknown, token, slot)
        previous = offset
        if callback is not None:
            callback(1 + offset - first, length - first)
    out, _, _ = pattern.revert_pattern_sequence(sequence, special_token=unknown)
    out = out[..., :max_gen_len]
    assert (out >= 0).all() and (out <= lm.card).all()
    return out
