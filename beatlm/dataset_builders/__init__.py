"""Data-set building steps: rendered beats, captions, downloads, vocal removal, features."""
