"""MusicLM's semantic tokens: k-means cluster ids of normalised frame features at 25 frames per second.

`SemanticTokenizer` holds a feature source's settings, the per-dimension mean and std of the
features it was fitted on, and the cluster centroids (buffers). It is fitted with scikit-learn's
`MiniBatchKMeans` (deterministic for a seed); only the centroids are kept, as tensors. `save` writes
one file of plain tensors and settings; `load` reads it back with BeatLM's safe checkpoint loader.
A source backed by a model (MuLaN, a pretrained encoder) is referenced by where it was loaded
from and its content signature, checked on load.
"""

from pathlib import Path
import typing as tp

import numpy as np
import torch
from torch import nn

from ..utils.errors import BeatLMError
from .semantic_features import FeatureSource, source_from_settings

if tp.TYPE_CHECKING:
    from ..models.mulan import MuLaNModel

KIND = "beatlm.semantic_tokenizer"
VERSION = 1


class SemanticTokenizer(nn.Module):
    """Audio [B, C, T] -> semantic tokens [B, frames] (nearest centroid of normalised frame features).

    Args:
        source: The feature source.
    """

    def __init__(self, source: FeatureSource):
        super().__init__()
        self.source = source
        self.register_buffer("mean", torch.zeros(source.dim))
        self.register_buffer("std", torch.ones(source.dim))
        self.register_buffer("centroids", torch.zeros(0, source.dim))
        self.fit_info: tp.Dict[str, tp.Any] = {}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The number of centroids is whatever was fitted: take the stored shape.
        stored = state_dict.get(prefix + "centroids")
        if isinstance(stored, torch.Tensor) and stored.dim() == 2 and stored.shape[1] == self.source.dim:
            self.centroids = torch.zeros_like(stored, device=self.centroids.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def frame_rate(self) -> float:
        """Tokens per second."""
        return self.source.frame_rate

    @property
    def cardinality(self) -> int:
        """Number of distinct tokens (clusters); 0 before fitting."""
        return int(self.centroids.shape[0])

    @property
    def fitted(self) -> bool:
        return self.cardinality > 0

    def settings(self) -> tp.Dict[str, tp.Any]:
        """The feature source's settings (JSON values)."""
        return self.source.settings()

    def signature(self) -> str:
        """Content signature: changes whenever the centroids, normalisation or feature settings change."""
        from ..utils.signature import state_signature
        return state_signature(self, extra=self.settings())

    def fit(self, features: torch.Tensor, clusters: int, seed: int = 0, batch_size: int = 4096,
            max_iter: int = 100, n_init: int = 3) -> "SemanticTokenizer":
        """Fit normalisation and k-means centroids on frame features [N, dim].

        Args:
            features: Frame features of the source (e.g. from `collect_features`).
            clusters: Number of clusters (the token vocabulary size).
            seed: `random_state` of MiniBatchKMeans: the same features and seed give the same centroids.
            batch_size: MiniBatchKMeans batch size.
            max_iter: Passes over the data at most.
            n_init: Initialisations tried (the best inertia is kept).
        Returns:
            self, fitted.
        """
        from sklearn.cluster import MiniBatchKMeans
        features = torch.as_tensor(features).float()
        if features.dim() != 2 or features.shape[1] != self.source.dim:
            raise BeatLMError(f"expected features [N, {self.source.dim}] for the {self.source.name} source, "
                              f"got {tuple(features.shape)}")
        if clusters < 2 or features.shape[0] < clusters:
            raise BeatLMError(f"cannot fit {clusters} clusters on {features.shape[0]} frames: need at least 2 "
                              "clusters and as many frames as clusters (add clips or lower --clusters)")
        if not torch.isfinite(features).all():
            raise BeatLMError("the features hold NaN or infinite values")
        mean, std = features.mean(dim=0), features.std(dim=0).clamp(min=1e-5)
        data = ((features - mean) / std).numpy().astype(np.float64)
        kmeans = MiniBatchKMeans(n_clusters=clusters, random_state=seed, batch_size=batch_size, max_iter=max_iter,
                                 n_init=n_init).fit(data)
        self.mean, self.std = mean, std
        self.centroids = torch.from_numpy(kmeans.cluster_centers_).float()
        self.fit_info = {"clusters": int(clusters), "seed": int(seed), "frames": int(features.shape[0]),
                         "inertia_per_frame": float(kmeans.inertia_ / features.shape[0])}
        return self

    @torch.no_grad()
    def quantize(self, features: torch.Tensor) -> torch.Tensor:
        """Tokens [..., frames] of features [..., frames, dim] of this tokenizer's source."""
        if not self.fitted:
            raise BeatLMError("the semantic tokenizer is not fitted: fit it (beatlm fit semantic-tokenizer) "
                              "or load a fitted one")
        shape = features.shape[:-1]
        flat = (features.reshape(-1, features.shape[-1]).to(self.centroids) - self.mean) / self.std
        return torch.cdist(flat, self.centroids).argmin(dim=-1).view(shape)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Semantic tokens (LongTensor [B, frames], `frames = floor(seconds * frame_rate)`) of audio [B, C, T]."""
        if not self.fitted:
            raise BeatLMError("the semantic tokenizer is not fitted: fit it (beatlm fit semantic-tokenizer) "
                              "or load a fitted one")
        return self.quantize(self.source(wav, sample_rate)).long()

    def forward(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self.encode(wav, sample_rate)

    def save(self, path: tp.Union[str, Path], overwrite: bool = False) -> Path:
        """Write the tokenizer to one file (plain tensors and settings), atomically.

        Raises:
            BeatLMError: not fitted, or `path` exists and `overwrite` is False.
        """
        from ..utils.files import save_atomic
        if not self.fitted:
            raise BeatLMError("refusing to save an unfitted semantic tokenizer")
        package = {"kind": KIND, "version": VERSION, "settings": self.settings(), "location": self.source.location,
                   "fit": dict(self.fit_info), "signature": self.signature(),
                   "state": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}}
        return save_atomic(package, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: tp.Union[str, Path], location: tp.Optional[str] = None,
             mulan: tp.Optional["MuLaNModel"] = None) -> "SemanticTokenizer":
        """Load a tokenizer written by `save`.

        Args:
            path: The file.
            location: Where the source's model is, if not where it was when fitted (MuLaN / encoder).
            mulan: An already loaded MuLaN for the mulan source.
        Raises:
            BeatLMError: the file is missing, unsafe or not a semantic tokenizer; the model it needs is
                missing or differs from the one it was fitted on.
        """
        from ..utils.checkpoint import load_checkpoint
        package = load_checkpoint(path)
        if not isinstance(package, dict) or package.get("kind") != KIND:
            raise BeatLMError(f"{path} is not a semantic tokenizer (write one with `beatlm fit semantic-tokenizer`)")
        if package.get("version") != VERSION:
            raise BeatLMError(f"{path}: semantic tokenizer format {package.get('version')} is not supported "
                              f"(this BeatLM reads version {VERSION}); refit it")
        source = source_from_settings(package["settings"], location or package.get("location"), mulan=mulan)
        tokenizer = cls(source)
        try:
            tokenizer.load_state_dict(package["state"])
        except RuntimeError as exc:
            raise BeatLMError(f"{path}: the tokenizer state does not fit its {source.name} source "
                              f"({str(exc).splitlines()[-1].strip()})") from None
        tokenizer.fit_info = dict(package.get("fit") or {})
        return tokenizer.eval()


def collect_features(source: FeatureSource, clips: tp.Iterable[tp.Tuple[torch.Tensor, int]],
                     max_frames: tp.Optional[int] = None) -> torch.Tensor:
    """Features [N, dim] of every frame of `clips` ((wav [C, T], sample_rate) each), evenly thinned to `max_frames`.

    The thinning keeps frames at evenly spaced indices over all frames in clip order, so it is
    deterministic and spreads over every clip.
    """
    parts = [source(wav[None], sample_rate)[0] for wav, sample_rate in clips]
    if not parts:
        raise BeatLMError("no clip to compute features on")
    features = torch.cat(parts)
    if max_frames and features.shape[0] > max_frames:
        keep = torch.from_numpy(np.linspace(0, features.shape[0] - 1, max_frames).round().astype(np.int64))
        features = features[keep]
    return features
