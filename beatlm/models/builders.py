"""Factories that build BeatLM's models from an OmegaConf config."""

from audiocraft.models import builders as ac_builders
from audiocraft.models.encodec import CompressionModel
import omegaconf


def get_compression_model(cfg: omegaconf.DictConfig, device: str = "cpu") -> CompressionModel:
    """The Encodec codec described by an experiment config (audiocraft's builder), on `device`."""
    cfg = omegaconf.OmegaConf.create(omegaconf.OmegaConf.to_container(cfg, resolve=False))
    cfg.device = device
    return ac_builders.get_compression_model(cfg).to(device)
