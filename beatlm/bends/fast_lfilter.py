"""Bend: torchaudio's IIR filter loop runs one Python iteration per sample without its compiled extension.

`torchaudio_cpu` removes torchaudio's compiled libraries (they do not load beside this torch), so
`torchaudio.functional.lfilter` falls back to `_lfilter_core_generic_loop`: a Python loop over every
sample. audiocraft's `audio_write(strategy="loudness")`, which `beatlm generate` uses, measures loudness
through two such filters: about 16 s to write a 2 s clip at 32 kHz here, against 0.5 s peak-normalised.
The same recursion, y[n] = x[n] - sum_k a_k y[n - k], is run by `scipy.signal.lfilter` in C.

Only the all-pole loop is replaced, and only for CPU tensors; the autograd wrapper around it is torchaudio's.
"""

import typing as tp

import torch


def _scipy_loop(input_signal_windows: torch.Tensor, a_coeffs_flipped: torch.Tensor,
                padded_output_waveform: torch.Tensor) -> None:
    """torchaudio's `_lfilter_core_loop` contract: fill `padded_output_waveform[..., order - 1:]` in place."""
    if input_signal_windows.device.type != "cpu":
        return _original(input_signal_windows, a_coeffs_flipped, padded_output_waveform)
    from scipy.signal import lfilter
    order = a_coeffs_flipped.size(1)
    x = input_signal_windows.detach().double().numpy()  # [batch, channel, time]
    a = a_coeffs_flipped.detach().flip(1).double().numpy()  # [channel, order], a[:, 0] == 1
    y = torch.stack([torch.from_numpy(lfilter([1.0], a[c], x[:, c], axis=-1)) for c in range(a.shape[0])], dim=1)
    padded_output_waveform[:, :, order - 1:] = y.to(padded_output_waveform.dtype)


_original: tp.Callable[..., tp.Any] = None  # type: ignore[assignment]


def apply() -> None:
    """Use the scipy loop when torchaudio's compiled loop is missing (idempotent)."""
    global _original
    from torchaudio.functional import filtering
    if getattr(filtering, "_IS_TORCHAUDIO_EXT_AVAILABLE", False) or filtering._lfilter_core_loop is _scipy_loop:
        return
    _original = filtering._lfilter_core_loop
    filtering._lfilter_core_loop = _scipy_loop
