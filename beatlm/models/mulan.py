"""MuLaN, assembled: log-mel front-end, musiclm-pytorch's towers and losses, and the token quantizer.

`MuLaNModel` is what the MuLaN solver trains, what `beatlm export mulan` writes and what every stage
conditions on: `embed_audio` (any sample rate and length: resampled, cut in windows, averaged, as the
MuLan paper does), `embed_text`, `similarity`, and the quantized tokens of either.
"""

import math
import typing as tp

from audiocraft.data.audio_utils import convert_audio
import torch
from torch import nn
import torch.nn.functional as F

from ..modules.mulan_frontend import LogMelFrontend, SpecAugment
from ..modules.mulan_quantizer import MulanQuantizer
from ..modules.text_tokenizer import ClipTokenizer


class MuLaNModel(nn.Module):
    """A joint text-audio embedding model with its front-end and tokenizer.

    Args:
        mulan: musiclm-pytorch `MuLaN` (audio tower fed log-mel frames, `accept_spec=True`).
        frontend: Waveform to log-mel frames.
        augment: SpecAugment applied to the frames while training.
        quantizer: Residual VQ producing MuLaN tokens (fitted after training).
        window: Seconds of audio per embedding; longer audio is averaged over windows.
        tokenizer: Token ids for a from-scratch text tower; None when the tower takes raw text.
        text_groups: With a tokenizer, the texts of a batch go through the text tower in this many groups of
            similar length, each cut to its own longest text (see `_token_latents`).
    """

    def __init__(self, mulan: nn.Module, frontend: LogMelFrontend, augment: SpecAugment, quantizer: MulanQuantizer,
                 window: float, tokenizer: tp.Optional[ClipTokenizer] = None, text_groups: int = 1,
                 max_temp: tp.Optional[float] = None):
        super().__init__()
        self.max_temp = max_temp
        self.text_groups = max(1, int(text_groups))
        self.mulan = mulan
        self.frontend = frontend
        self.augment = augment
        self.quantizer = quantizer
        self.window = window
        self.tokenizer = tokenizer
        self.patch = mulan.audio.patch_size

    @staticmethod
    def get_pretrained(name_or_path: str, device: str = "cpu") -> "MuLaNModel":
        """Load an exported MuLaN (a file, a folder holding `mulan.th`, `//sig/<SIG>`, or a hub id)."""
        from .loaders import load_mulan_model
        return load_mulan_model(name_or_path, device)

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def dim(self) -> int:
        return self.mulan.dim_latent

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def temperature(self) -> float:
        """The contrastive loss's learned inverse temperature (the scale of its cosine similarities)."""
        return float(self.mulan.contrast.temperatures.detach().exp().mean())

    def clamp_temperature(self) -> None:
        """Keep the contrastive loss's learned inverse temperature at most `max_temp` (if set; after each update).

        musiclm-pytorch's losses compute exp(temperature * cosine) without subtracting a maximum: a temperature
        that kept rising would overflow float32 (CLIP clamps its learned logit scale the same way).
        """
        if self.max_temp is not None:
            with torch.no_grad():
                self.mulan.contrast.temperatures.clamp_(max=math.log(self.max_temp))

    def frames(self, wav: torch.Tensor) -> torch.Tensor:
        """Mono waveforms [B, T] at `sample_rate` -> log-mel frames [B, frames, n_mels] cut to whole patches."""
        return self.prepare(self.log_mel(wav))

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """Mono waveforms [B, T] at `sample_rate` -> log-mel frames [B, frames, n_mels], at least one patch long."""
        min_samples = self.patch[1] * self.frontend.hop_length
        if wav.shape[-1] < min_samples:  # very short audio: pad to one patch of frames
            wav = F.pad(wav, (0, min_samples - wav.shape[-1]))
        return self.frontend(wav)

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """Log-mel frames [B, frames, n_mels] as the audio tower takes them: augmented while training, cut to
        whole patches (at least one: shorter inputs are padded with their quietest level)."""
        if frames.shape[1] < self.patch[1]:
            frames = F.pad(frames, (0, 0, 0, self.patch[1] - frames.shape[1]), value=float(frames.min()))
        frames = self.augment(frames)
        keep = frames.shape[1] // self.patch[1] * self.patch[1]
        return frames[:, :keep]

    def _text_latents(self, texts: tp.Sequence[str]) -> torch.Tensor:
        if self.tokenizer is not None:
            return self._token_latents(self.tokenizer(texts).to(self.device))
        return self.mulan.get_text_latents(raw_texts=list(texts))

    def _token_latents(self, ids: torch.Tensor) -> torch.Tensor:
        """Text latents of token ids [B, n] (0: padding), computed in `text_groups` groups of similar length.

        A batch padded to its longest caption spends most of the text tower on padding (corpus captions:
        36 tokens on average, the longest of 64 about 80). The tower masks padding in attention, so a
        group cut to its own longest text gives the same latents for less work.
        """
        lengths = (ids != 0).sum(dim=1)
        order = lengths.argsort()
        latents = [self.mulan.get_text_latents(texts=ids[group, :max(1, int(lengths[group].max()))])
                   for group in order.chunk(self.text_groups)]
        return torch.cat(latents)[order.argsort()]

    def loss(self, wav: torch.Tensor, texts: tp.Sequence[str]) -> torch.Tensor:
        """Contrastive loss of a batch of (audio window [B, T] or [B, 1, T] at `sample_rate`, text) pairs."""
        if wav.dim() == 3:
            wav = wav.mean(dim=1)
        return self.loss_from_frames(self.log_mel(wav), texts)

    def loss_from_frames(self, frames: torch.Tensor, texts: tp.Sequence[str]) -> torch.Tensor:
        """Contrastive loss of (log-mel frames [B, frames, n_mels] of `log_mel`, text) pairs."""
        audio = self.mulan.get_audio_latents(self.prepare(frames))
        text = self._text_latents(texts)
        return self.mulan.contrast(audio, text)

    def embed_audio(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """L2-normalised embeddings [B, dim] of audio [B, C, T], [C, T] or [T] at any rate and length.

        Audio is resampled to mono `sample_rate`, cut into `window`-second windows (the last window
        ends at the end of the clip) and the window embeddings are averaged.
        """
        if wav.dim() == 1:
            wav = wav[None]
        if wav.dim() == 2:
            wav = wav[None]
        wav = convert_audio(wav.to(self.device).float(), sample_rate, self.sample_rate, 1)[:, 0]
        size = int(self.window * self.sample_rate)
        length = wav.shape[-1]
        count = max(1, math.ceil(length / size))
        starts = [min(i * size, max(0, length - size)) for i in range(count)]
        windows = torch.stack([wav[:, s:s + size] for s in starts], dim=1)  # [B, count, <=size]
        batch = windows.shape[0]
        latents = self.mulan.get_audio_latents(self.frames(windows.flatten(0, 1)))
        return F.normalize(latents.view(batch, count, -1).mean(dim=1), dim=-1)

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings [B, dim] of one window of log-mel frames [B, frames, n_mels] each."""
        return F.normalize(self.mulan.get_audio_latents(self.prepare(frames)), dim=-1)

    @property
    def text_max_tokens(self) -> int:
        """Longest text (in its tokenizer's tokens) the text tower reads; longer texts are truncated."""
        if self.tokenizer is not None:
            return int(self.tokenizer.max_tokens)
        return int(self.mulan.text.max_length)

    def count_text_tokens(self, text: str) -> int:
        """Tokens of `text` for the text tower (special tokens included), before truncation."""
        if self.tokenizer is not None:
            return len(self.tokenizer.tokenizer.encode(text))
        return len(self.mulan.text.tokenizer(text, truncation=False)["input_ids"])

    def embed_text(self, texts: tp.Sequence[str]) -> torch.Tensor:
        """L2-normalised embeddings [B, dim] of texts."""
        return self._text_latents(texts)

    @staticmethod
    def similarity(audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine similarities [Na, Nt] between audio and text embeddings."""
        return F.normalize(audio, dim=-1) @ F.normalize(text, dim=-1).t()

    def tokens(self, embeddings: torch.Tensor) -> torch.Tensor:
        """MuLaN tokens [B, levels] of embeddings [B, dim] (the quantizer must be fitted)."""
        return self.quantizer.encode(embeddings)
