"""Vocal presence: the share of time silero-vad judges to be speech (an instrumental should have none).

silero-vad (MIT) ships its TorchScript weights in its wheel, so this works offline. It scores 32 ms
windows (512 samples at 16 kHz); a window is speech when its probability exceeds `threshold`.
"""

import contextlib
import functools
import typing as tp

import torch

VAD_SAMPLE_RATE = 16000
VAD_WINDOW = 512  # samples at 16 kHz per speech probability (32 ms)
SPEECH_THRESHOLD = 0.5  # silero-vad's own default
SPEECH_FREE_RATIO = 0.05  # a sample with less speech than this counts as free of vocals


@contextlib.contextmanager
def one_thread() -> tp.Iterator[None]:
    """Run torch on one thread inside the block, then restore the thread count.

    silero-vad runs one small step per 32 ms window: with several threads each step pays thread
    hand-offs (about 10x slower here on 2 busy cores), which is why importing silero_vad sets one
    thread for the whole process. BeatLM keeps its thread count and switches only around the VAD.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=1)
def load_vad() -> tp.Any:
    """silero-vad's JIT model from its wheel (no network), loaded once per process."""
    with one_thread():
        from silero_vad import load_silero_vad
        model = load_silero_vad(onnx=False)
    return model.eval()


@torch.no_grad()
def speech_probabilities(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Speech probability of every 32 ms window: audio [B, C, T], [C, T] or [T] -> [B, windows].

    Audio is mixed to mono and resampled to 16 kHz first.
    """
    import julius  # audiocraft's resampler, without importing audiocraft
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() == 2:
        wav = wav[None]
    mono = julius.resample_frac(wav.detach().float().cpu().mean(dim=1), int(sample_rate), VAD_SAMPLE_RATE)
    if mono.shape[-1] < VAD_WINDOW:
        mono = torch.nn.functional.pad(mono, (0, VAD_WINDOW - mono.shape[-1]))
    model = load_vad()
    with one_thread():
        model.reset_states()
        return model.audio_forward(mono.contiguous(), VAD_SAMPLE_RATE)


def speech_ratio(wav: torch.Tensor, sample_rate: int, threshold: float = SPEECH_THRESHOLD) -> tp.List[float]:
    """Fraction of 32 ms windows judged speech, per item of a batch [B, C, T] (or of one clip [C, T] / [T]).

    Args:
        wav: Audio at `sample_rate`.
        sample_rate: Its rate.
        threshold: Probability above which a window is speech.
    """
    probs = speech_probabilities(wav, sample_rate)
    return [float(row.mean()) for row in (probs > threshold).float()]
