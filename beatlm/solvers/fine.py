"""MusicLM's fine stage: the codec codebooks after the coarse ones, conditioned on MuLaN tokens and,
frame by frame, on the coarse codebooks of the same clip.

    dora run solver=musiclm/fine model_scale=micro dset=beats/<name> compression_model_checkpoint=... \\
        mulan_checkpoint=... semantic_tokenizer_checkpoint=...

Its generate stage decodes the clip's own coarse codebooks with the generated fine ones to audio.
"""

import typing as tp

import torch

from .stage import StageSolver


class FineSolver(StageSolver):
    """Fine stage solver (see the module docstring and `StageSolver`)."""

    stage = "fine"

    def make_spec(self) -> tp.Dict[str, tp.Any]:
        kc, card = int(self.cfg.coarse_codebooks), int(self.codec.cardinality)
        return {"stage": self.stage, "n_q": int(self.codec.num_codebooks) - kc, "card": card,
                "frame_rate": float(self.codec.frame_rate),
                "aligned": {"attribute": "coarse_codes", "num_streams": kc, "cardinality": card,
                            "frame_rate": float(self.codec.frame_rate)}}

    def targets(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        return batch["codes"][:, self.cfg.coarse_codebooks:], batch["codes_mask"]

    def aligned(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        return batch["codes"][:, :self.cfg.coarse_codebooks], batch["codes_mask"].sum(dim=1)

    def decode(self, codes: torch.Tensor, batch: tp.Dict[str, torch.Tensor]) -> torch.Tensor:
        coarse = batch["codes"][:, :self.cfg.coarse_codebooks, :codes.shape[-1]]
        return self.codec.decode(torch.cat([coarse, codes], dim=1))
