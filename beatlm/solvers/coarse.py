"""MusicLM's coarse stage: the first `coarse_codebooks` codec codebooks, conditioned on MuLaN tokens and,
frame by frame, on the semantic tokens of the same clip.

    dora run solver=musiclm/coarse model_scale=micro dset=beats/<name> compression_model_checkpoint=... \\
        mulan_checkpoint=... semantic_tokenizer_checkpoint=...

Its generate stage decodes the coarse codebooks alone (the fine ones left out) to audio.
"""

import typing as tp

import torch

from .stage import StageSolver


class CoarseSolver(StageSolver):
    """Coarse stage solver (see the module docstring and `StageSolver`)."""

    stage = "coarse"

    def make_spec(self) -> tp.Dict[str, tp.Any]:
        tokenizer = self.semantic_tokenizer
        return {"stage": self.stage, "n_q": int(self.cfg.coarse_codebooks), "card": int(self.codec.cardinality),
                "frame_rate": float(self.codec.frame_rate),
                "aligned": {"attribute": "semantic_tokens", "num_streams": 1,
                            "cardinality": int(tokenizer.cardinality), "frame_rate": float(tokenizer.frame_rate)}}

    def targets(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        return batch["codes"][:, :self.cfg.coarse_codebooks], batch["codes_mask"]

    def aligned(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        return batch["semantic"][:, None], batch["semantic_mask"].sum(dim=1)

    def decode(self, codes: torch.Tensor, batch: tp.Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.codec.decode(codes)
