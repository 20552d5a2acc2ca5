"""Baseline generators for the generation speed benchmark (untrained weights: speed only, not quality).

- MusicGen-style: one audiocraft `LMModel` over all of the codec's codebooks with the delay pattern,
  conditioned on MuLaN tokens like BeatLM's stages, sized to a parameter budget.
- audiolm-pytorch 2.4.0: its semantic, coarse and fine transformers, each sampled by its own
  wrapper's `generate` loop from token ids and a precomputed conditioning embedding.
"""

import contextlib
import math
from pathlib import Path
import time
import typing as tp

import omegaconf
import torch
from torch import nn

from .. import models  # noqa: F401  (applies BeatLM's bends: CFG must null `joint_embed` conditions)

if tp.TYPE_CHECKING:
    from audiocraft.models.lm import LMModel

    from ..models.mulan import MuLaNModel

LM_CONFIG = Path(__file__).resolve().parents[1] / "config" / "model" / "lm" / "musiclm.yaml"
DEPTHS = range(2, 13)
ATTRIBUTE = "description"
CFG_COEF = 3.0
# Untrained semantic logits for EOS, so that sampling never stops before `max_length`; finite, because
# guidance computes null + (cond - null) * scale, which is NaN for infinities.
_NO_EOS_LOGIT = -1e4


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of `module` (all of them, trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def _frames(seconds: float, rate: float) -> int:
    return int(math.floor(seconds * rate + 1e-6))  # as BeatLM's MusicLM


# MusicGen-style baseline

def _lm_kwargs(dim: int, num_layers: int, num_heads: int, hidden_scale: int) -> tp.Dict[str, tp.Any]:
    # The transformer keys of BeatLM's stage LMs (config/model/lm/musiclm.yaml), with this model's sizes.
    kwargs = omegaconf.OmegaConf.to_container(omegaconf.OmegaConf.load(LM_CONFIG).transformer_lm, resolve=True)
    assert isinstance(kwargs, dict)
    kwargs.update(dim=dim, num_layers=num_layers, num_heads=num_heads, hidden_scale=hidden_scale)
    return kwargs


def _build_lm(codec: tp.Any, mulan: "MuLaNModel", dim: int, num_layers: int, num_heads: int, hidden_scale: int,
              device: str, lm_device: tp.Optional[str] = None) -> "LMModel":
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider

    from ..modules.conditioners import MulanConditioner
    conditioner = MulanConditioner(dim, device, ATTRIBUTE, mulan, namespace="musicgen")
    provider = ConditioningProvider({ATTRIBUTE: conditioner}, device=device)
    fuser = ConditionFuser({"prepend": [ATTRIBUTE], "cross": [], "sum": [], "input_interpolate": []})
    lm_device = lm_device or device
    with torch.device(lm_device):
        lm = LMModel(pattern_provider=DelayedPatternProvider(codec.num_codebooks), condition_provider=provider,
                     fuser=fuser, n_q=codec.num_codebooks, card=codec.cardinality, cfg_dropout=0.1,
                     cfg_coef=CFG_COEF, device=lm_device,
                     **_lm_kwargs(dim, num_layers, num_heads, hidden_scale))
    return lm


def _count_model(codec: tp.Any, mulan: "MuLaNModel", dim: int, num_layers: int, num_heads: int,
                 hidden_scale: int) -> int:
    # The transformer on the meta device (no memory, no init cost); the MuLaN tables are real but tiny.
    return count_parameters(_build_lm(codec, mulan, dim, num_layers, num_heads, hidden_scale, "cpu", "meta"))


def _count_fn(codec: tp.Any, mulan: "MuLaNModel", step: int, num_heads: int,
              hidden_scale: int) -> tp.Callable[[int, int], int]:
    """Exact parameter count of (depth, dim = k * step) from six probe builds.

    The count is linear in depth (identical layers) and, at a fixed depth, a quadratic polynomial of dim
    (attention and feed-forward weights are quadratic; embeddings, heads, norms, biases and the MuLaN tables
    linear), so probes at depths 1, 2 and dims step, 2 step, 3 step determine it exactly.
    """
    probes = {(depth, k): _count_model(codec, mulan, k * step, depth, num_heads, hidden_scale)
              for depth in (1, 2) for k in (1, 2, 3)}

    def at_depth_one_two(depth: int, k: int) -> int:
        c1, c2, c3 = (probes[depth, j] for j in (1, 2, 3))
        return c1 + (k - 1) * (c2 - c1) + (k - 1) * (k - 2) // 2 * (c3 - 2 * c2 + c1)

    def count(depth: int, k: int) -> int:
        one, two = at_depth_one_two(1, k), at_depth_one_two(2, k)
        return one + (depth - 1) * (two - one)
    return count


def _closest_size(count: tp.Callable[[int, int], int], target: int) -> tp.Tuple[int, int]:
    """(depth, k) over `DEPTHS` and k >= 1 whose count is closest to `target` (count grows with k)."""
    best: tp.Optional[tp.Tuple[int, int, int]] = None
    for depth in DEPTHS:
        k = 1
        while count(depth, k) < target:
            k += 1
        for j in sorted({max(1, k - 1), k}):
            error = abs(count(depth, j) - target)
            if best is None or error < best[0]:
                best = (error, depth, j)
    assert best is not None
    return best[1], best[2]


def musicgen_style_lm(codec: tp.Any, mulan: "MuLaNModel", target_params: int, device: str = "cpu",
                      num_heads: int = 4, hidden_scale: int = 4) -> "LMModel":
    """A MusicGen-style LM over all of the codec's codebooks, sized to about `target_params` parameters.

    audiocraft's `LMModel` with the delay codebook pattern, conditioned like BeatLM's stages: MuLaN tokens
    from a `MulanConditioner` (namespace 'musicgen') prepended to the sequence, classifier-free guidance
    (dropout 0.1, coefficient 3). The transformer options are those of BeatLM's stage LMs
    (config/model/lm/musiclm.yaml); depth (2 to 12) and width (a multiple of 8 * `num_heads`) are the
    pair whose parameter count is closest to `target_params`.

    Args:
        codec: Compression model (or stand-in) with `num_codebooks` and `cardinality`.
        mulan: MuLaN with a fitted quantizer (shared, not part of the LM's parameters).
        target_params: Wanted parameter count (`count_parameters` of the returned model).
        device: Torch device.
        num_heads: Attention heads.
        hidden_scale: Feed-forward width as a multiple of the model width.
    Returns:
        The LM, untrained, in eval mode.
    """
    step = 8 * num_heads
    depth, k = _closest_size(_count_fn(codec, mulan, step, num_heads, hidden_scale), target_params)
    lm = _build_lm(codec, mulan, k * step, depth, num_heads, hidden_scale, device)
    return lm.eval()


def musicgen_generate(lm: "LMModel", codec: tp.Any, mulan: "MuLaNModel", prompts: tp.List[str],
                      seconds: float, top_k: int = 250) -> tp.Dict[str, tp.Any]:
    """Generate `seconds` of audio per text prompt with a MusicGen-style LM, then decode it with the codec.

    Args:
        lm: A model from `musicgen_style_lm`.
        codec: Its codec: `frame_rate` and `decode(codes [B, K, T]) -> wav [B, C, samples]`.
        mulan: The LM's MuLaN (its sample rate goes in the text-only conditions).
        prompts: One text per item of the batch.
        seconds: Duration to generate.
        top_k: Top-k sampling (capped at the codebook size).
    Returns:
        {"wav": [B, C, samples], "codes": [B, K, frames], "timings": {"lm": s, "decode": s}}, where "lm"
        covers `lm.generate` (MuLaN text embedding and guidance included) and "decode" `codec.decode`.
    """
    from audiocraft.modules.conditioners import ConditioningAttributes, JointEmbedCondition
    conditions = [ConditioningAttributes(joint_embed={ATTRIBUTE: JointEmbedCondition(
        torch.zeros(1, 1, 1), [prompt], torch.tensor([0]), [mulan.sample_rate], [None], [None])})
        for prompt in prompts]
    start = time.perf_counter()
    codes = lm.generate(conditions=conditions, max_gen_len=_frames(seconds, codec.frame_rate), use_sampling=True,
                        top_k=min(top_k, lm.card), cfg_coef=CFG_COEF)
    generated = time.perf_counter()
    with torch.no_grad():
        wav = codec.decode(codes)
    decoded = time.perf_counter()
    return {"wav": wav, "codes": codes, "timings": {"lm": generated - start, "decode": decoded - generated}}


# audiolm-pytorch baseline

def _audiolm() -> tp.Any:
    from ..bends import musiclm_offline
    musiclm_offline.apply()  # audiolm-pytorch imports fairseq at the top
    from audiolm_pytorch import audiolm_pytorch
    return audiolm_pytorch


def _unused_t5_dim(name: str) -> None:
    return None  # `default(cond_dim, None)` is `cond_dim`


@contextlib.contextmanager
def offline_t5_lookup() -> tp.Iterator[None]:
    """Within this context, audiolm-pytorch's stage transformers can be built offline when given `cond_dim`.

    Their constructors evaluate `default(cond_dim, get_encoded_dim(t5_name))`, which asks the Hugging Face
    hub for the T5 config even when `cond_dim` makes its width unused, and fails offline. The name
    `get_encoded_dim` in `audiolm_pytorch.audiolm_pytorch` is pointed at a stub returning None for the
    duration of the context, then restored. Always pass `cond_dim` inside it.
    """
    module = _audiolm()
    original = module.get_encoded_dim
    module.get_encoded_dim = _unused_t5_dim
    try:
        yield
    finally:
        module.get_encoded_dim = original


def _placeholder_codec(card: int, num_quantizers: int) -> nn.Module:
    # The coarse and fine wrappers read `rq_groups` and `num_quantizers` off a codec at construction (they
    # need one only to encode prime waves or decode). A minimal SoundStream that is never run.
    from audiolm_pytorch import SoundStream
    return SoundStream(channels=2, strides=(2,), channel_mults=(1,), codebook_dim=8, codebook_size=card,
                       rq_num_quantizers=num_quantizers, use_local_attn=False, discr_multi_scales=(),
                       stft_discriminator=nn.Identity())


def _never_end(semantic: nn.Module) -> None:
    # Untrained, the semantic stage would sample EOS and stop early (all rows ended), making the timing
    # depend on luck; a trained model runs to `max_length`. EOS gets a constant, hopeless logit.
    with torch.no_grad():
        semantic.to_logits.weight[semantic.eos_id].zero_()
        semantic.to_logits.bias[semantic.eos_id] = _NO_EOS_LOGIT


def audiolm_stages(dim: int, depth: int, heads: int, semantic_card: int, codec_card: int, coarse_q: int,
                   fine_q: int, cond_dim: int) -> tp.Dict[str, nn.Module]:
    """audiolm-pytorch's three stages, untrained, conditioned by cross-attention on a `cond_dim` embedding.

    Each is the library's training wrapper (which owns the `generate` loop) around its transformer:
    `SemanticTransformerWrapper`, `CoarseTransformerWrapper` and `FineTransformerWrapper`, without
    wav2vec, with `unique_consecutive=False` (tokens stay time-aligned, as in BeatLM), and with a tiny
    SoundStream that is never run as the codec the acoustic wrappers require. The semantic stage's EOS
    is made unreachable, so generation always runs to the requested length. Count a stage's parameters on
    its `.transformer`. Built offline (see `offline_t5_lookup`).

    Args:
        dim: Transformer width.
        depth: Layers per stage.
        heads: Attention heads.
        semantic_card: Semantic vocabulary size.
        codec_card: Codebook size of the codec.
        coarse_q: Codebooks modelled by the coarse stage (the first ones).
        fine_q: Codebooks modelled by the fine stage (the remaining ones).
        cond_dim: Width of the conditioning embedding (`text_embeds`).
    Returns:
        {"semantic": ..., "coarse": ..., "fine": ...} wrappers in eval mode.
    """
    alm = _audiolm()
    shared = dict(dim=dim, depth=depth, heads=heads, has_condition=True, cond_dim=cond_dim)
    with offline_t5_lookup():
        semantic = alm.SemanticTransformer(num_semantic_tokens=semantic_card, **shared)
        coarse = alm.CoarseTransformer(num_semantic_tokens=semantic_card, codebook_size=codec_card,
                                       num_coarse_quantizers=coarse_q, **shared)
        fine = alm.FineTransformer(num_coarse_quantizers=coarse_q, num_fine_quantizers=fine_q,
                                   codebook_size=codec_card, **shared)
    _never_end(semantic)
    codec = _placeholder_codec(codec_card, coarse_q + fine_q)
    stages = {
        "semantic": alm.SemanticTransformerWrapper(transformer=semantic, unique_consecutive=False),
        "coarse": alm.CoarseTransformerWrapper(transformer=coarse, codec=codec, unique_consecutive=False),
        "fine": alm.FineTransformerWrapper(transformer=fine, codec=codec),
    }
    return {name: stage.eval() for name, stage in stages.items()}


def _cond_width(stage: nn.Module) -> int:
    proj = stage.transformer.proj_text_embed
    return proj.in_features if isinstance(proj, nn.Linear) else stage.transformer.start_token.shape[-1]


def _timed(fn: tp.Callable[..., torch.Tensor], **kwargs) -> tp.Tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn(**kwargs)
    return out, time.perf_counter() - start


def audiolm_generate(stages: tp.Dict[str, nn.Module], batch: int, seconds: float, semantic_rate: float = 25,
                     codec_rate: float = 50, cond: tp.Optional[torch.Tensor] = None) -> tp.Dict[str, tp.Any]:
    """Sample semantic, coarse and fine tokens with audiolm-pytorch's own decoding loops.

    Each stage's wall time is exactly one call of its wrapper's `generate` (KV-cached, guidance scale 3,
    the library's top-k `filter_thres=0.9` and Gumbel sampling, its tqdm progress bar), driven with token
    ids and `text_embeds`: semantic from nothing to `seconds * semantic_rate` tokens; coarse from those to
    `seconds * codec_rate` frames of its codebooks; fine from the coarse tokens to the same frames of its
    codebooks. Not timed: building the stages, the conditioning (`cond` is given or drawn at random:
    no text encoder runs), and audio (no prime wave is encoded, no codec decodes the tokens).

    Args:
        stages: From `audiolm_stages`.
        batch: Items generated at once.
        seconds: Duration to generate.
        semantic_rate: Semantic tokens per second.
        codec_rate: Codec frames per second.
        cond: Conditioning [batch, tokens, cond_dim] (e.g. a MuLaN embedding as one token); None draws one
            random token per item.
    Returns:
        {"semantic": [B, S], "coarse": [B, T, coarse_q], "fine": [B, T, fine_q] token ids (-1 after a
        sampled coarse EOS), "timings": {"semantic": s, "coarse": s, "fine": s}}.
    """
    if cond is None:
        cond = torch.randn(batch, 1, _cond_width(stages["semantic"]))
    semantic, t_semantic = _timed(stages["semantic"].generate, max_length=_frames(seconds, semantic_rate),
                                  batch_size=batch, text_embeds=cond, cond_scale=CFG_COEF)
    coarse, t_coarse = _timed(stages["coarse"].generate, semantic_token_ids=semantic, text_embeds=cond,
                              max_time_steps=_frames(seconds, codec_rate), cond_scale=CFG_COEF)
    fine, t_fine = _timed(stages["fine"].generate, coarse_token_ids=coarse, text_embeds=cond, cond_scale=CFG_COEF)
    return {"semantic": semantic, "coarse": coarse, "fine": fine,
            "timings": {"semantic": t_semantic, "coarse": t_coarse, "fine": t_fine}}
