"""Data files shipped inside the package (see each folder's README for origin and licence)."""

from pathlib import Path

ASSETS_DIR = Path(__file__).parent
DRUMS_CC0_DIR = ASSETS_DIR / "drums_cc0"
