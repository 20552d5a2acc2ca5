"""Data files shipped inside the package (see each folder's README for origin and licence)."""

from pathlib import Path

ASSETS_DIR = Path(__file__).parent
DRUMS_CC0_DIR = ASSETS_DIR / "drums_cc0"
SMALL_DEMUCS_DIR = ASSETS_DIR / "demucs_small"  # a Demucs repo folder: see its README
SMALL_DEMUCS_NAME = "beatlm_vocals"
