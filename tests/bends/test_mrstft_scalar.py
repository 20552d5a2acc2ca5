"""The mrstft_scalar bend: audiocraft's multi-resolution STFT loss is a 0-d tensor its Balancer can use."""

from audiocraft.losses import Balancer, MRSTFTLoss
import torch

from beatlm.bends import mrstft_scalar


def test_mrstft_is_scalar_and_balanced():
    mrstft_scalar.apply()
    torch.manual_seed(0)
    x, y = torch.randn(2, 1, 8000, requires_grad=True), torch.randn(2, 1, 8000)
    loss = MRSTFTLoss(n_ffts=[512, 256], hop_lengths=[128, 64], win_lengths=[512, 256])
    value = loss(x, y)
    assert value.dim() == 0 and value.device == x.device
    unbent = mrstft_scalar._original(loss, x, y)
    assert unbent.shape == (1,) and torch.allclose(value, unbent[0])  # the same number, upstream's shape
    Balancer({"mrstft": 1.0}).backward({"mrstft": value}, x)  # upstream's [1] tensor fails here
    assert x.grad is not None and torch.isfinite(x.grad).all()
