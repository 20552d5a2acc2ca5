"""Tiny procedural drum-and-bass loops: deterministic test audio for smoke tests.

Not training data (the beat corpus renderer is); just a few seconds with the transients, tones and
noise a codec has to reproduce, made from numpy alone so it needs no sample files.
"""

from pathlib import Path
import typing as tp

import numpy as np
import soundfile as sf


def render_loop(bpm: float, seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A mono kick / snare / hi-hat / sine-bass loop in [-1, 1], float32, of exactly `seconds`."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float64)
    step = 60.0 / bpm / 4  # sixteenth note
    t = np.arange(int(0.25 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    snare = rng.standard_normal(t.size) * np.exp(-t * 25) * 0.5
    hat = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t * 90) * 0.15
    roots = 55.0 * 2 ** (rng.choice([0, 3, 5, 7, 10], size=4) / 12)
    for i in range(int(seconds / step) + 1):
        start = int(i * step * sample_rate)
        hits = [hat] + ([kick] if i % 8 in (0, 3) else []) + ([snare] if i % 8 == 4 else [])
        for hit in hits:
            end = min(n, start + hit.size)
            out[start:end] += hit[:end - start]
    times = np.arange(n) / sample_rate
    bar = np.minimum((times / (16 * step)).astype(int) % 4, 3)
    out += 0.3 * np.sin(2 * np.pi * np.cumsum(roots[bar]) / sample_rate)
    return (out / max(1e-9, np.abs(out).max()) * 0.8).astype(np.float32)


def write_loops(out_dir: tp.Union[str, Path], count: int, seconds: float, sample_rate: int,
                seed: int = 0) -> tp.List[Path]:
    """Write `count` loops at different tempi as 16-bit WAV files `loop_<i>.wav`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        bpm = 80 + (i * 23) % 80
        path = out_dir / f"loop_{i:03d}.wav"
        sf.write(path, render_loop(bpm, seconds, sample_rate, seed + i), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths
