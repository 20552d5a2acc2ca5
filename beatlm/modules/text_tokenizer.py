"""Text to token ids for MuLaN's from-scratch text tower (musiclm-pytorch's CLIP BPE, shipped offline)."""

import logging
import typing as tp

import torch

logger = logging.getLogger(__name__)


class ClipTokenizer:
    """CLIP BPE tokens, truncated to `max_tokens` (warning once), padded with 0.

    Args:
        max_tokens: Longest sequence kept; must not exceed the text tower's `max_seq_len`.
    """

    def __init__(self, max_tokens: int = 128):
        from beatlm.bends import musiclm_offline
        musiclm_offline.apply()
        from x_clip.tokenizer import tokenizer
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self._warned = False

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def __call__(self, texts: tp.Sequence[str]) -> torch.Tensor:
        """Token ids [B, n] (int64, 0 is padding; an empty text is all padding)."""
        ids = [self.tokenizer.encode(text or "") for text in texts]
        if any(len(i) > self.max_tokens for i in ids) and not self._warned:
            logger.warning("captions longer than %d tokens are truncated (warned once)", self.max_tokens)
            self._warned = True
        length = max(1, min(self.max_tokens, max(len(i) for i in ids)))
        out = torch.zeros(len(ids), length, dtype=torch.long)
        for row, seq in enumerate(ids):
            seq = seq[:length]
            out[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        return out
