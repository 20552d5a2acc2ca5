"""Synthetic rap-like vocals (espeak-ng speech and chants) mixed over beats, to train and test vocal removal.

No real vocal stems can be had offline, so stand-in vocals come from Debian's `espeak-ng`: random lines
of rap-ish words (spoken, fast or slow) and chanted hooks (a short phrase repeated at a fixed pitch),
in several languages and voice variants, with varied pitch and speed. `VocalPool` writes them once into
a folder (re-runs reuse it); `compose_vocals` lays phrases over a clip and `mix` scales them against
the beat at a chosen vocal-to-beat level. `si_sdr` scores a separation.
"""

from dataclasses import dataclass
import hashlib
from pathlib import Path
import shutil
import subprocess
import typing as tp

import numpy as np

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path

WORDS = ("yeah", "uh", "money", "city", "night", "block", "real", "ride", "flow", "street", "gold", "chain", "dream",
         "grind", "hustle", "crown", "fire", "bass", "beat", "mic", "rhyme", "time", "came", "up", "from", "the",
         "bottom", "never", "stop", "we", "they", "know", "my", "name", "on", "top", "rolling", "deep", "late",
         "game", "shine", "light", "cold", "heart", "fast", "lane", "stack", "paper", "check", "it", "say", "go",
         "now", "again", "crew", "loyal", "hard", "work", "dollar", "sign", "town", "hold", "down", "get", "back")
LANGUAGES = ("en-us", "en", "en-gb-x-rp", "es", "fr-fr", "de", "pt-br", "it")
TRAIN_VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m7", "f1", "f3", "f4", "croak", "klatt", "klatt2", "Andy",
                  "Michael", "Storm", "adam", "boris", "david", "edward", "john", "max", "norbert", "paul", "rob")
HELDOUT_VARIANTS = ("m3", "f2", "klatt3", "Mr", "quincy", "travis")
ESPEAK_RATE = 22050


@dataclass
class Phrase:
    """One espeak-ng utterance and how it was said."""
    text: str
    voice: str
    pitch: int
    speed: int
    gap: int


def espeak_binary() -> str:
    """Path of `espeak-ng`, or a BeatLMError with the install line."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise BeatLMError("espeak-ng is needed for synthetic vocals: apt-get install espeak-ng")
    return path


def random_phrase(rng: np.random.Generator, variants: tp.Sequence[str]) -> Phrase:
    """A spoken line (60%) or a chanted hook (40%) with a random language, variant, pitch and speed."""
    voice = f"{rng.choice(LANGUAGES)}+{rng.choice(list(variants))}"
    if rng.random() < 0.6:
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(4, 12))))
        return Phrase(text, voice, int(rng.integers(15, 85)), int(rng.integers(130, 280)), int(rng.integers(0, 3)))
    hook = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 4))))
    text = ", ".join([hook] * int(rng.integers(2, 5)))
    return Phrase(text, voice, int(rng.integers(30, 99)), int(rng.integers(90, 150)), int(rng.integers(3, 10)))


def speak(phrase: Phrase, path: Path) -> None:
    """Render a phrase to a WAV (espeak-ng's 22.05 kHz mono), atomically."""
    with atomic_path(path, overwrite=True) as tmp:
        cmd = [espeak_binary(), "-w", str(tmp), "-v", phrase.voice, "-p", str(phrase.pitch), "-s", str(phrase.speed),
               "-g", str(phrase.gap), "--", phrase.text]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BeatLMError(f"espeak-ng failed for voice {phrase.voice}: {proc.stderr.strip()[:200]}")


class VocalPool:
    """A folder of synthetic vocal phrases, loaded as mono float32 arrays at `sample_rate`.

    Args:
        folder: Where the WAVs are written (and found again on the next run).
        count: Number of phrases.
        seed: Seed of the phrases; the same (seed, count, variants) gives the same pool.
        variants: espeak-ng voice variants to draw from (`TRAIN_VARIANTS` or `HELDOUT_VARIANTS`).
        sample_rate: Rate the phrases are resampled to.
    """

    def __init__(self, folder: tp.Union[str, Path], count: int, seed: int, variants: tp.Sequence[str],
                 sample_rate: int):
        import librosa
        import soundfile as sf
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        rng = np.random.default_rng([seed, 7])
        self.phrases = [random_phrase(rng, variants) for _ in range(count)]
        self.clips: tp.List[np.ndarray] = []
        for i, phrase in enumerate(self.phrases):
            key = hashlib.sha1(repr(phrase).encode()).hexdigest()[:10]
            path = self.folder / f"phrase_{i:05d}_{key}.wav"
            if not path.is_file():
                speak(phrase, path)
            wav, rate = sf.read(path, dtype="float32")
            wav = librosa.resample(wav, orig_sr=rate, target_sr=sample_rate) if rate != sample_rate else wav
            peak = float(np.abs(wav).max()) if wav.size else 0.0
            if peak > 0:
                self.clips.append((wav / peak).astype(np.float32))

    def __len__(self) -> int:
        return len(self.clips)


def compose_vocals(pool: VocalPool, length: int, rng: np.random.Generator, coverage: float = 0.6) -> np.ndarray:
    """Phrases placed at random over `length` samples until about `coverage` of the clip holds a voice."""
    out = np.zeros(length, dtype=np.float32)
    covered = np.zeros(length, dtype=bool)
    for _ in range(32):
        if covered.mean() >= coverage:
            break
        clip = pool.clips[int(rng.integers(len(pool)))]
        clip = clip[:length]
        start = int(rng.integers(0, length - len(clip) + 1))
        out[start:start + len(clip)] += clip * float(rng.uniform(0.6, 1.0))
        covered[start:start + len(clip)] = True
    return out


def rms(wav: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)) + 1e-12))


def mix(beat: np.ndarray, vocals: np.ndarray, level_db: float) -> tp.Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mix, scaled vocals, beat), vocals at `level_db` above the beat (RMS), all scaled to peak <= 0.99."""
    scaled = vocals * (rms(beat) / rms(vocals) * 10 ** (level_db / 20)) if rms(vocals) > 1e-5 else vocals * 0
    total = beat + scaled
    peak = float(np.abs(total).max())
    gain = 0.99 / peak if peak > 0.99 else 1.0
    return total * gain, scaled * gain, beat * gain


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (both zero-meaned first)."""
    estimate = np.asarray(estimate, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    estimate, reference = estimate - estimate.mean(), reference - reference.mean()
    alpha = np.dot(estimate, reference) / (np.dot(reference, reference) + 1e-12)
    target = alpha * reference
    noise = estimate - target
    return float(10 * np.log10((np.dot(target, target) + 1e-12) / (np.dot(noise, noise) + 1e-12)))
