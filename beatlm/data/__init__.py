"""Data sets and manifests (audiocraft's `data.jsonl.gz` format)."""
