"""Assembled models: `builders` (from an OmegaConf config) and `loaders` (from files or the hub)."""

from .. import bends

bends.apply()
