import torch
from torchaudio.functional import filtering

from beatlm.bends import apply, fast_lfilter


def _lfilter(x: torch.Tensor) -> torch.Tensor:
    a = torch.tensor([[1.0, -1.6, 0.7], [1.0, -0.5, 0.1]], dtype=x.dtype)
    b = torch.tensor([[0.5, 0.2, 0.1], [1.0, 0.0, 0.0]], dtype=x.dtype)
    return filtering.lfilter(x, a, b, clamp=False)


def test_scipy_loop_is_installed_while_torchaudio_has_no_compiled_loop():
    apply()
    assert not filtering._IS_TORCHAUDIO_EXT_AVAILABLE  # if torchaudio's own loop loads again, drop this bend
    assert filtering._lfilter_core_loop is fast_lfilter._scipy_loop


def test_same_output_as_torchaudios_python_loop(monkeypatch):
    apply()
    x = torch.randn(3, 2, 2000, generator=torch.Generator().manual_seed(0)) * 0.1
    fast = _lfilter(x.clone())
    monkeypatch.setattr(filtering, "_lfilter_core_loop", filtering._lfilter_core_generic_loop)
    with torch.no_grad():  # the Python loop writes into its input, which autograd refuses
        slow = _lfilter(x.clone())
    assert torch.allclose(fast, slow, atol=1e-5)


def test_gradients_are_torchaudios():
    apply()
    x = (torch.randn(1, 2, 40, dtype=torch.double) * 0.1).requires_grad_()
    assert torch.autograd.gradcheck(_lfilter, (x,))
