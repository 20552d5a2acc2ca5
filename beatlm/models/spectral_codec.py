"""The spectral codec: an audiocraft `CompressionModel` whose tokens quantise STFT magnitude frames.

It is an `EncodecModel` with other encoder and decoder (modules/spectral_codec.py) around audiocraft's
residual vector quantizer, so audiocraft's `CompressionSolver` trains it, and `encode` / `decode`,
codebooks, cardinality and frame rate mean what they mean for Encodec.
"""

import typing as tp

from audiocraft.models.encodec import EncodecModel
from audiocraft.quantization import BaseQuantizer, QuantizedResult
import torch

from ..modules.spectral_codec import LOG_FLOOR, SpectralDecoder, SpectralEncoder


class SpectralCodec(EncodecModel):
    """Encodec's interface over STFT frames; the frame rate is `sample_rate / hop_length`.

    In training, `forward` gives the predicted magnitudes the input's own phase, so the solver's waveform
    losses can judge them; but the true phase carries pitch by itself (blurred magnitudes with it still
    correlate 0.94 in chroma with the original, 0.42 once Griffin-Lim makes the phase), so the model also
    adds `magnitude_weight` x the L1 distance of the predicted and true log-magnitudes (at its own STFT, no
    phase) to the quantizer's penalty, which audiocraft's solver backpropagates as it is. Outside training
    (`eval()`, and `decode` always) the phase comes from Griffin-Lim: the solver's validation measures the
    real codec.

    Args:
        encoder: Log-magnitude frames to latents.
        decoder: Latents to magnitudes to waveform.
        quantizer: audiocraft's residual vector quantizer (or `DummyQuantizer`).
        sample_rate: Audio rate.
        channels: Audio channels (1).
        magnitude_weight: Weight of the log-magnitude L1 loss added to the penalty in training.
        magnitude_tilt_hz: Above this frequency the loss weighs each bin by `magnitude_tilt_hz / f` (every octave
            then weighs the same, as in a chromagram, where pitch is read); 0 weighs every bin alike.
    """

    def __init__(self, encoder: SpectralEncoder, decoder: SpectralDecoder, quantizer: BaseQuantizer,
                 sample_rate: int, channels: int = 1, magnitude_weight: float = 0.0,
                 magnitude_tilt_hz: float = 0.0):
        frame_rate = sample_rate / encoder.frames.hop_length
        if frame_rate != int(frame_rate):
            raise ValueError(f"hop {encoder.frames.hop_length} does not divide the sample rate {sample_rate}")
        super().__init__(encoder, decoder, quantizer, frame_rate=int(frame_rate), sample_rate=sample_rate,
                         channels=channels, causal=False, renormalize=False)
        self.magnitude_weight = float(magnitude_weight)
        freqs = torch.linspace(0, sample_rate / 2, encoder.frames.n_bins)
        weights = magnitude_tilt_hz / freqs.clamp(min=magnitude_tilt_hz) if magnitude_tilt_hz > 0 else freqs * 0 + 1
        self.register_buffer("bin_weights", (weights / weights.mean())[:, None], persistent=False)

    def forward(self, x: torch.Tensor) -> QuantizedResult:
        length = x.shape[-1]
        spec = self.encoder.frames(x)
        q_res = self.quantizer(self.encoder.encode_spec(spec), self.frame_rate)
        if not self.training:
            q_res.x = self.decoder(q_res.x, length=length)
            return q_res
        log_mag = self.decoder.log_magnitude(q_res.x)
        target = torch.log(spec.abs().clamp(min=LOG_FLOOR))
        error = (log_mag.clamp(min=target.new_tensor(LOG_FLOOR).log()) - target).abs()
        magnitude_l1 = (error * self.bin_weights).mean()
        q_res.metrics["magnitude_l1"] = magnitude_l1.detach()
        if self.magnitude_weight:
            q_res.penalty = (q_res.penalty if q_res.penalty is not None else 0) + self.magnitude_weight * magnitude_l1
        q_res.x = self.decoder.frames.inverse(torch.polar(torch.exp(log_mag), spec.angle()), length)
        return q_res

    def decode(self, codes: torch.Tensor, scale: tp.Optional[torch.Tensor] = None) -> torch.Tensor:
        """[B, K, N] codes -> [B, 1, N * hop] waveform (Griffin-Lim phase)."""
        return self.decoder(self.decode_latent(codes))
