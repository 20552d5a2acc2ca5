"""Factories that build BeatLM's models from an OmegaConf config."""

import math
import typing as tp

from audiocraft.models import builders as ac_builders
from audiocraft.models.encodec import CompressionModel
import omegaconf
import torch

from ..utils.errors import BeatLMError

# Largest `mulan.max_temp`: exp(80 * cosine) summed over a global batch of 4096 stays below float32's 3.4e38.
MAX_TEMP = 80.0

if tp.TYPE_CHECKING:
    from audiocraft.models.lm import LMModel

    from ..modules.mulan_frontend import LogMelFrontend
    from .mulan import MuLaNModel
    from .spectral_codec import SpectralCodec


def get_compression_model(cfg: omegaconf.DictConfig, device: str = "cpu") -> CompressionModel:
    """The codec described by an experiment config, on `device`.

    `compression_model: spectral` is BeatLM's spectral codec (config/model/encodec/spectral.yaml); every
    other value goes to audiocraft's builder (`encodec`).
    """
    cfg = omegaconf.OmegaConf.create(omegaconf.OmegaConf.to_container(cfg, resolve=False))
    cfg.device = device
    if cfg.compression_model == "spectral":
        return get_spectral_codec(cfg).to(device)
    return ac_builders.get_compression_model(cfg).to(device)


def get_spectral_codec(cfg: omegaconf.DictConfig) -> "SpectralCodec":
    """The spectral codec of a config's `spectral` section, with audiocraft's quantizer of its `quantizer` key."""
    from ..modules.spectral_codec import SpectralDecoder, SpectralEncoder, STFTFrames
    from .spectral_codec import SpectralCodec
    s = cfg.spectral
    if s.n_fft < s.hop_length or cfg.sample_rate % s.hop_length:
        raise BeatLMError(f"spectral.hop_length={s.hop_length} must divide sample_rate={cfg.sample_rate} and be at "
                          f"most spectral.n_fft={s.n_fft}")
    frames = STFTFrames(s.n_fft, s.hop_length)
    encoder = SpectralEncoder(frames, s.dimension, s.dim, s.intermediate_dim, s.encoder_layers)
    decoder = SpectralDecoder(frames, s.dimension, s.dim, s.intermediate_dim, s.decoder_layers,
                              griffin_lim_iters=s.griffin_lim_iters, griffin_lim_seed=s.griffin_lim_seed,
                              pitched=s.get("pitched", False), sample_rate=cfg.sample_rate)
    quantizer = ac_builders.get_quantizer(s.quantizer, cfg, s.dimension)
    return SpectralCodec(encoder, decoder, quantizer, sample_rate=cfg.sample_rate, channels=cfg.channels,
                         # exports made before these keys trained without them
                         magnitude_weight=s.get("magnitude_weight", 0.0),
                         magnitude_tilt_hz=s.get("magnitude_tilt_hz", 0.0))


def get_mulan_frontend(cfg: omegaconf.DictConfig) -> "LogMelFrontend":
    """MuLaN's log-mel front-end from the `mulan` section of a config."""
    from ..modules.mulan_frontend import LogMelFrontend
    return LogMelFrontend(sample_rate=cfg.sample_rate, **cfg.frontend)


def get_mulan_model(cfg: omegaconf.DictConfig) -> "MuLaNModel":
    """MuLaN from the `mulan` section of a config (see config/model/mulan/default.yaml)."""
    from ..bends import ast_pos_bias, musiclm_offline
    musiclm_offline.apply()
    from musiclm_pytorch import AudioSpectrogramTransformer, MuLaN, TextTransformer
    from torch import nn

    from ..modules.mulan_frontend import SpecAugment
    from ..modules.mulan_quantizer import MulanQuantizer
    from ..modules.text_tokenizer import ClipTokenizer
    from .mulan import MuLaNModel
    a, t = cfg.audio, cfg.text
    frontend = get_mulan_frontend(cfg)
    if frontend.n_bins % a.patch_size:
        raise BeatLMError(f"mulan.frontend.n_mels + n_chroma = {frontend.n_bins} must be a multiple of "
                          f"mulan.audio.patch_size ({a.patch_size}): the audio tower cuts frames into whole patches")
    audio = AudioSpectrogramTransformer(
        dim=a.dim, depth=a.depth, heads=a.heads, dim_head=a.dim_head, patch_size=a.patch_size,
        attn_dropout=a.attn_dropout, ff_dropout=a.ff_dropout, patch_dropout_prob=a.patch_dropout,
        accept_spec=True, accept_spec_time_first=True)
    audio.aug = nn.Identity()  # its SpecAugment is broken (see modules/mulan_frontend.py); ours runs first
    ast_pos_bias.install(audio)
    tokenizer = None
    if t.tower == "transformer":
        tokenizer = ClipTokenizer(t.max_tokens)
        text = TextTransformer(dim=t.dim, depth=t.depth, heads=t.heads, dim_head=t.dim_head,
                               num_tokens=tokenizer.vocab_size, max_seq_len=t.max_tokens,
                               attn_dropout=t.attn_dropout, ff_dropout=t.ff_dropout)
    elif t.tower == "pretrained":
        # MuLaN type-checks its text tower as a TextTransformer: build it with a one-layer placeholder
        # of the same width, then put the pretrained tower in its place.
        text = TextTransformer(dim=t.dim, depth=1, heads=1, dim_head=8, num_tokens=1, max_seq_len=1)
    else:
        raise ValueError(f"unknown text tower '{t.tower}' (transformer or pretrained)")
    mulan = MuLaN(audio_transformer=audio, text_transformer=text, dim_latent=cfg.dim_latent,
                  decoupled_contrastive_learning=cfg.loss == "decoupled",
                  sigmoid_contrastive_loss=cfg.loss == "sigmoid")
    # musiclm-pytorch's MuLaN does not pass its losses' `init_temp` on. Configs saved in exports made before
    # `init_temp` existed lack it: their learned value is loaded over this one anyway.
    init_temp, max_temp = float(cfg.get("init_temp", 10.0)), float(cfg.get("max_temp", MAX_TEMP))
    if not init_temp > 0:
        raise BeatLMError(f"mulan.init_temp={init_temp:g} must be positive (it multiplies the cosine similarities)")
    if not init_temp <= max_temp <= MAX_TEMP:
        raise BeatLMError(f"mulan.max_temp={max_temp:g} must lie between mulan.init_temp={init_temp:g} and "
                          f"{MAX_TEMP:g} (the contrastive losses exponentiate the scaled similarities in float32)")
    with torch.no_grad():
        mulan.contrast.temperatures.fill_(math.log(init_temp))
    if t.tower == "pretrained":
        from ..modules.pretrained_text import PretrainedTextTower
        p = t.pretrained
        mulan.text = PretrainedTextTower(dim=t.dim, name_or_path=p.name_or_path, sha256=p.sha256,
                                         head_hidden=p.head_hidden, max_length=t.max_tokens)
    augment = SpecAugment(**cfg.spec_augment)
    q = cfg.quantizer
    quantizer = MulanQuantizer(cfg.dim_latent, levels=q.levels, bins=q.bins, decay=q.decay, kmeans_iters=q.kmeans_iters)
    return MuLaNModel(mulan, frontend, augment, quantizer, window=cfg.window, tokenizer=tokenizer,
                      text_groups=t.get("length_groups", 1), max_temp=max_temp)


def get_stage_lm(cfg: omegaconf.DictConfig, spec: tp.Mapping[str, tp.Any], mulan: "MuLaNModel",
                 device: str = "cpu") -> "LMModel":
    """A MusicLM stage: audiocraft's `LMModel` with MuLaN and (coarse, fine) previous-stage conditioning.

    Args:
        cfg: Experiment config with `transformer_lm`, `codebooks_pattern`, `classifier_free_guidance` and
            `mulan_conditioner` (config/model/lm/musiclm.yaml).
        spec: What the stage models, from the tokenizers it was trained with: `stage` (name, also the
            MuLaN table namespace), `n_q` streams of `card` tokens at `frame_rate`, and `aligned`: None,
            or the previous stage's tokens (`attribute`, `num_streams`, `cardinality`, `frame_rate`).
        mulan: MuLaN with a fitted quantizer (frozen, shared; not part of the LM's state).
        device: Torch device.
    """
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.conditioners import ConditioningProvider

    from ..modules.conditioners import MulanConditioner
    from ..modules.fusers import AlignedConditionFuser
    from ..modules.token_conditioner import TokenSequenceConditioner
    kwargs = omegaconf.OmegaConf.to_container(cfg.transformer_lm, resolve=True)
    pattern_cfg = omegaconf.OmegaConf.create(omegaconf.OmegaConf.to_container(cfg.codebooks_pattern, resolve=True))
    n_q, dim = int(spec["n_q"]), int(kwargs["dim"])
    if pattern_cfg.modeling == "musiclm" and pattern_cfg.musiclm.group_by is None:
        pattern_cfg.musiclm.group_by = n_q
    pattern_provider = ac_builders.get_codebooks_pattern_provider(n_q, pattern_cfg)
    mc = cfg.mulan_conditioner
    conditioners: tp.Dict[str, tp.Any] = {
        mc.attribute: MulanConditioner(dim, device, mc.attribute, mulan, namespace=spec["stage"], text_p=mc.text_p)}
    fuse2cond = {"prepend": [mc.attribute], "aligned": []}
    aligned = spec.get("aligned")
    if aligned:
        conditioners[aligned["attribute"]] = TokenSequenceConditioner(
            dim, device, num_streams=int(aligned["num_streams"]), cardinality=int(aligned["cardinality"]),
            frame_rate=float(aligned["frame_rate"]), target_frame_rate=float(spec["frame_rate"]))
        fuse2cond["aligned"].append(aligned["attribute"])
    cfg_guidance = cfg.classifier_free_guidance
    return LMModel(
        pattern_provider=pattern_provider,
        condition_provider=ConditioningProvider(conditioners, device=device),
        fuser=AlignedConditionFuser(fuse2cond, pattern_provider),
        n_q=n_q, card=int(spec["card"]),
        cfg_dropout=float(cfg_guidance.training_dropout), cfg_coef=float(cfg_guidance.inference_coef),
        dtype=getattr(torch, cfg.dtype), device=device, **kwargs).to(device)
