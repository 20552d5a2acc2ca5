"""Bend: audiocraft's multi-resolution STFT loss cannot be balanced.

`audiocraft.losses.MRSTFTLoss.forward` sums its resolutions into `torch.Tensor([0.0])`: a 1-element tensor,
always on the CPU. audiocraft's own `Balancer.backward` then fails on it (`effective_loss += scale * loss`:
"output with shape [] doesn't match the broadcast shape [1]"), and on a GPU the sum mixes devices, so
`losses.mrstft` could never be used in `solver=compression`. BeatLM's spectral codec trains with it (its
linear-frequency log-magnitudes are fine enough for pitch where mel losses are not). The wrapper returns
the same value as a 0-d tensor on the input's device.
"""

from audiocraft.losses.stftloss import MRSTFTLoss
import torch

_original = MRSTFTLoss.forward


def _forward(self: MRSTFTLoss, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    sc_loss = x.new_zeros(())
    mag_loss = x.new_zeros(())
    for f in self.stft_losses:
        sc, mag = f(x, y)
        sc_loss = sc_loss + sc
        mag_loss = mag_loss + mag
    count = len(self.stft_losses)
    return self.factor_sc * sc_loss / count + self.factor_mag * mag_loss / count


def apply() -> None:
    """Install the 0-d, same-device `MRSTFTLoss.forward`."""
    MRSTFTLoss.forward = _forward  # type: ignore[method-assign]
