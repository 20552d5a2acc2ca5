"""MuLaN tokens: a residual VQ fitted on MuLaN embeddings, then frozen (the plan's MuLaNEmbedQuantizer).

The quantizer is vector-quantize-pytorch's `ResidualVQ` with the settings musiclm-pytorch's
`MuLaNEmbedQuantizer` uses (k-means init, EMA codebooks, no commitment loss, dead-code restarts).
It is fitted once on audio embeddings of the training set and never updated afterwards; the
per-stage embedding tables that turn tokens into conditioning live in each stage's conditioner.
"""

import torch
from torch import nn
from vector_quantize_pytorch import ResidualVQ


class MulanQuantizer(nn.Module):
    """Residual VQ over L2-normalised MuLaN embeddings.

    Args:
        dim: Embedding dimension (MuLaN's `dim_latent`).
        levels: Residual levels (tokens per embedding).
        bins: Codebook size of each level.
        decay: EMA decay of the codebooks while fitting.
        kmeans_iters: k-means iterations of the initialisation.
    """

    def __init__(self, dim: int, levels: int, bins: int, decay: float = 0.9, kmeans_iters: int = 20):
        super().__init__()
        self.dim, self.levels, self.bins = dim, levels, bins
        self.rq = ResidualVQ(dim=dim, num_quantizers=levels, codebook_size=bins, decay=decay, commitment_weight=0.,
                             kmeans_init=True, kmeans_iters=kmeans_iters, threshold_ema_dead_code=2,
                             quantize_dropout=False, sync_codebook=False)  # fitted in one process (rank 0)
        self.register_buffer("fitted", torch.tensor(False))
        self.requires_grad_(False)

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor, epochs: int = 20, batch_size: int = 1024, seed: int = 0) -> None:
        """Fit the codebooks on `embeddings` [N, dim]: k-means init on the whole set, then EMA passes.

        Args:
            embeddings: Audio embeddings of the training set.
            epochs: EMA passes over the embeddings after the k-means initialisation.
            batch_size: Embeddings per EMA update.
            seed: Seed of the shuffling and of the k-means initialisation.
        """
        if embeddings.shape[0] < self.bins:
            raise ValueError(f"fitting {self.bins} codes per level needs at least {self.bins} embeddings, "
                             f"got {embeddings.shape[0]}")
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.rq.train()
            self.rq(embeddings[None])  # k-means initialisation of every level
            for _ in range(epochs):
                order = torch.randperm(embeddings.shape[0], generator=generator)
                for start in range(0, len(order), batch_size):
                    self.rq(embeddings[order[start:start + batch_size]][None])
        self.rq.eval()
        self.fitted.fill_(True)

    @torch.no_grad()
    def encode(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Tokens [B, levels] (int64, each in [0, bins)) of embeddings [B, dim]."""
        if not bool(self.fitted):
            raise RuntimeError("the MuLaN quantizer has not been fitted yet")
        self.rq.eval()
        _, indices, _ = self.rq(embeddings[None].float())
        return indices[0].long()

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """The quantized embeddings [B, dim] of tokens [B, levels]."""
        return self.rq.get_output_from_indices(tokens[None])[0]

    def train(self, mode: bool = True) -> "MulanQuantizer":
        # Frozen once fitted: a parent's .train() must not turn EMA updates back on.
        super().train(mode)
        self.rq.eval()
        return self
