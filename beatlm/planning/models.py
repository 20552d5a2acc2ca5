"""Each solver's trained modules, built at meta device (no memory, no weights) through the project's
builders, with a per-GPU batch to run a forward pass on and the tokens a training step covers."""

from dataclasses import dataclass, field
import math
from pathlib import Path
import typing as tp

import omegaconf
import torch
from torch import nn

from ..utils.errors import BeatLMError
from . import SOLVERS

META = torch.device("meta")


@dataclass
class SolverModels:
    """What one solver trains.

    Attributes:
        name: `codec`, `mulan`, `semantic`, `coarse` or `fine`.
        cfg: Its composed config.
        trained: Modules whose parameters the solver optimises (at meta device).
        forward: Runs one training forward pass for `batch` items and returns a scalar loss.
        tokens: Per training item, what a step covers: {what: count} (e.g. `modelled tokens`).
    """
    name: str
    cfg: omegaconf.DictConfig
    trained: tp.Dict[str, nn.Module]
    forward: tp.Callable[[int], torch.Tensor]
    tokens: tp.Dict[str, float] = field(default_factory=dict)


def solver_config(solver: str, scale: str, overrides: tp.Sequence[str] = ()) -> omegaconf.DictConfig:
    """The config `dora run solver=<solver> model_scale=<scale> <overrides>` composes (required paths left unset)."""
    from .. import train
    if solver not in SOLVERS:
        raise BeatLMError(f"unknown solver '{solver}' (known: {', '.join(SOLVERS)})")
    try:
        return train.main._get_config([f"solver={SOLVERS[solver]}", f"model_scale={scale}", *overrides])
    except SystemExit as exc:  # BeatLM's Dora main reports a bad override as one line
        raise BeatLMError(str(exc.code).removeprefix("beatlm: error: ")) from None


def codec_frame_rate(cfg: omegaconf.DictConfig) -> float:
    """Codec frames per second: the sample rate over the product of the SEANet strides."""
    ratios = _model_config(cfg, "seanet", "encodec/default").ratios
    return float(cfg.sample_rate) / math.prod(int(r) for r in ratios)


def _model_config(cfg: omegaconf.DictConfig, key: str, default: str) -> omegaconf.DictConfig:
    """`cfg[key]` over the defaults of config/model/<default>.yaml: a stage's config holds only the scale's
    values of the models it loads (MuLaN, the semantic tokenizer), whose own settings come with their export."""
    path = Path(__file__).resolve().parents[1] / "config" / "model" / f"{default}.yaml"
    return omegaconf.OmegaConf.merge(omegaconf.OmegaConf.load(path)[key], cfg.get(key) or {})


def stage_spec(cfg: omegaconf.DictConfig, stage: str) -> tp.Dict[str, tp.Any]:
    """`get_stage_lm`'s spec for the tokenizers of the config's scale: a codec of `rvq.n_q` codebooks of
    `rvq.bins` at the SEANet frame rate, and `semantic_tokenizer.clusters` semantic tokens."""
    rvq = _model_config(cfg, "rvq", "encodec/default")
    kc, n_q, card = int(cfg.coarse_codebooks), int(rvq.n_q), int(rvq.bins)
    tokenizer = _model_config(cfg, "semantic_tokenizer", "semantic_tokenizer/default")
    semantic = {"cardinality": int(tokenizer.clusters), "frame_rate": float(tokenizer.frame_rate)}
    rate = codec_frame_rate(cfg)
    if stage == "semantic":
        return {"stage": stage, "n_q": 1, "card": semantic["cardinality"], "frame_rate": semantic["frame_rate"],
                "aligned": None}
    if not 0 < kc < n_q:
        raise BeatLMError(f"coarse_codebooks={kc} must be between 1 and rvq.n_q - 1 = {n_q - 1}")
    if stage == "coarse":
        return {"stage": stage, "n_q": kc, "card": card, "frame_rate": rate,
                "aligned": {"attribute": "semantic_tokens", "num_streams": 1, **semantic}}
    return {"stage": stage, "n_q": n_q - kc, "card": card, "frame_rate": rate,
            "aligned": {"attribute": "coarse_codes", "num_streams": kc, "cardinality": card, "frame_rate": rate}}


def _conditioning_mulan(cfg: omegaconf.DictConfig):
    """A MuLaN for a stage's conditioner: what the stage's tables need (embedding width, token levels and
    bins) as configured, towers cut to one narrow layer (MuLaN is frozen and not part of the stage)."""
    from ..models.builders import get_mulan_model
    small = omegaconf.OmegaConf.merge(_model_config(cfg, "mulan", "mulan/default"), {
        tower: {"dim": 16, "depth": 1, "heads": 1, "dim_head": 16} for tower in ("audio", "text")})
    small.text.tower = "transformer"
    mulan = get_mulan_model(small)
    mulan.quantizer.fitted.fill_(True)  # tokens are never computed here: the tables are what counts
    return mulan


def _codec(name: str, cfg: omegaconf.DictConfig) -> SolverModels:
    from audiocraft.solvers.builders import get_adversary

    from ..models.builders import get_compression_model
    with META:
        codec = get_compression_model(cfg, device="meta")
        adversaries = nn.ModuleDict({adv: get_adversary(adv, cfg) for adv in cfg.adversarial.adversaries})
    for module in codec.modules():  # codebooks count as initialised: k-means needs values
        if "inited" in module._buffers:
            module.inited = torch.tensor([True])
    # Eval mode: the codebooks' EMA updates and dead-code checks read values; autograd saves the same tensors.
    codec.eval()
    samples = int(float(cfg.dataset.segment_duration) * int(cfg.sample_rate))

    def forward(batch: int) -> torch.Tensor:
        wav = torch.zeros(batch, int(cfg.channels), samples, device=META)
        out = codec(wav)
        loss = out.x.abs().mean() + out.penalty
        for adversary in adversaries.values():
            logits, _ = adversary(out.x)
            loss = loss + sum(logit.mean() for logit in logits)
        return loss

    frames = float(cfg.dataset.segment_duration) * codec_frame_rate(cfg)
    return SolverModels(name, cfg, {"codec": codec, "discriminator": adversaries}, forward,
                        {"audio samples": samples, "codec tokens": frames * int(cfg.rvq.n_q)})


def _mulan(name: str, cfg: omegaconf.DictConfig) -> SolverModels:
    m = cfg.mulan
    if m.text.tower != "transformer":
        raise BeatLMError(f"plan builds MuLaN at meta device, which the '{m.text.tower}' text tower (loaded "
                          "weights) cannot be; plan it with mulan.text.tower=transformer")
    from ..models.builders import get_mulan_model
    # torchaudio computes the mel filterbank's values while building it, which meta tensors cannot do:
    # MuLaN is built on the CPU, then moved to meta device.
    mulan = get_mulan_model(m).to(META)
    patch = int(m.audio.patch_size)
    frames = int(float(m.window) * int(m.sample_rate) / int(m.frontend.hop_length)) + 1
    frames = frames // patch * patch  # `MuLaNModel.prepare` cuts frames to whole patches
    mulan.train()

    bins = mulan.frontend.n_bins

    def forward(batch: int) -> torch.Tensor:
        spec = torch.zeros(batch, frames, bins, device=META)
        texts = torch.zeros(batch, int(m.text.max_tokens), dtype=torch.long, device=META)
        audio = mulan.mulan.get_audio_latents(spec)
        text = mulan.mulan.get_text_latents(texts=texts)
        # The contrastive loss has no meta kernel (masked_select); its B x B similarities weigh next to nothing.
        return (audio @ text.t()).sum()

    patches = (frames // patch) * (bins // patch)
    return SolverModels(name, cfg, {"mulan": mulan.mulan}, forward,
                        {"audio patches": patches, "text tokens": int(m.text.max_tokens)})


def _stage(name: str, cfg: omegaconf.DictConfig) -> SolverModels:
    from ..models.builders import get_stage_lm
    spec = stage_spec(cfg, name)
    lm = get_stage_lm(cfg, spec, _conditioning_mulan(cfg), device="meta")
    frames = int(math.ceil(float(cfg.dataset.segment_duration) * spec["frame_rate"]))
    conditioners = lm.condition_provider.conditioners
    attribute = cfg.mulan_conditioner.attribute
    aligned = spec["aligned"]
    lm.train()

    def forward(batch: int) -> torch.Tensor:
        codes = torch.zeros(batch, spec["n_q"], frames, dtype=torch.long, device=META)
        levels = conditioners[attribute].levels
        mulan_tokens = torch.zeros(batch, levels, dtype=torch.long, device=META)
        dropped = torch.zeros(batch, dtype=torch.bool, device=META)
        conditions = {attribute: conditioners[attribute].embed_tokens(mulan_tokens, dropped)}
        if aligned:
            length = int(math.ceil(float(cfg.dataset.segment_duration) * aligned["frame_rate"]))
            tokens = torch.zeros(batch, aligned["num_streams"], length, dtype=torch.long, device=META)
            conditions[aligned["attribute"]] = conditioners[aligned["attribute"]].embed_tokens(
                tokens, torch.full((batch,), length, device=META))
        logits = lm.compute_predictions(codes, [], conditions).logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))

    return SolverModels(name, cfg, {"lm": lm}, forward, {"modelled tokens": frames * spec["n_q"]})


def build(name: str, cfg: omegaconf.DictConfig) -> SolverModels:
    """The trained modules of solver `name` (a `SOLVERS` key) for config `cfg`, at meta device."""
    if name == "codec":
        return _codec(name, cfg)
    if name == "mulan":
        return _mulan(name, cfg)
    return _stage(name, cfg)
