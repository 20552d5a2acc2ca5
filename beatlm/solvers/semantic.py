"""MusicLM's semantic stage: one stream of semantic tokens (25 per second), conditioned on MuLaN tokens.

    dora run solver=musiclm/semantic model_scale=micro dset=beats/<name> compression_model_checkpoint=... \\
        mulan_checkpoint=... semantic_tokenizer_checkpoint=...

Its generate stage samples semantic tokens for the captions of a few clips (tokens, no audio).
"""

import typing as tp

import torch

from .stage import StageSolver


class SemanticSolver(StageSolver):
    """Semantic stage solver (see the module docstring and `StageSolver`)."""

    stage = "semantic"

    def make_spec(self) -> tp.Dict[str, tp.Any]:
        tokenizer = self.semantic_tokenizer
        return {"stage": self.stage, "n_q": 1, "card": int(tokenizer.cardinality),
                "frame_rate": float(tokenizer.frame_rate), "aligned": None}

    def targets(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        return batch["semantic"][:, None], batch["semantic_mask"]
