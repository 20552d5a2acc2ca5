"""Assembled models: `builders` (from an OmegaConf config), `loaders` (from files or the hub), and `MusicLM`
(the generation API: `MusicLM.get_pretrained(bundle)`)."""

from .. import bends

bends.apply()

from .musiclm import MusicLM  # noqa: E402  (after the bends: it uses audiocraft's conditioners)

__all__ = ["MusicLM"]
