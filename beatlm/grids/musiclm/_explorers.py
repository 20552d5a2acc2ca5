"""Explorers of the MusicLM grids: the columns `dora grid` shows, named as the solvers log them."""

import typing as tp

import treetable as tt

from .._base_explorers import BeatLMExplorer


class MulanExplorer(BeatLMExplorer):
    """MuLaN (beatlm/solvers/mulan.py): contrastive loss, then retrieval and zero-shot metrics."""

    best_metrics = {("valid", "loss"): "min"}

    def stages(self) -> tp.List[str]:
        return ["train", "valid", "evaluate"]

    def get_grid_metrics(self):
        return [
            tt.group("train", [tt.leaf("epoch"), tt.leaf("duration", ".1f"), tt.leaf("ping"),
                               tt.leaf("loss", ".4f"), tt.leaf("lr", ".1e")], align=">"),
            tt.group("valid", [tt.leaf("loss", ".4f"), tt.leaf("best_loss", ".4f")], align=">"),
            tt.group("evaluate", [tt.leaf("recall@1", ".3f"), tt.leaf("recall@10", ".3f"),
                                  tt.leaf("median_rank", ".0f"), tt.leaf("zero_shot_accuracy", ".3f")], align=">"),
        ]


class StageExplorer(BeatLMExplorer):
    """A stage LM (beatlm/solvers/stage.py): cross-entropy, perplexity, and the valid baselines (the
    training unigram's cross-entropy, and the model's with shuffled conditions)."""

    best_metrics = {("valid", "ce"): "min"}

    def stages(self) -> tp.List[str]:
        return ["train", "valid", "evaluate"]

    def get_grid_metrics(self):
        return [
            tt.group("train", [tt.leaf("epoch"), tt.leaf("duration", ".1f"), tt.leaf("ping"),
                               tt.leaf("ce", ".4f"), tt.leaf("ppl", ".2f"), tt.leaf("tokens_per_s", ".0f")],
                     align=">"),
            tt.group("valid", [tt.leaf("ce", ".4f"), tt.leaf("best_ce", ".4f"), tt.leaf("ppl", ".2f"),
                               tt.leaf("ce_shuffled", ".4f"), tt.leaf("ce_unigram", ".4f")], align=">"),
            tt.group("evaluate", [tt.leaf("ce", ".4f"), tt.leaf("ce_shuffled", ".4f")], align=">"),
        ]
