"""Reusable nn blocks, tokenizers and conditioners."""
