"""Sound sources: CC0 drum one-shots, a synthesised 808 with pitch glide, and General MIDI through FluidSynth."""

import functools
import os
from pathlib import Path
import shutil
import subprocess
import tempfile
import typing as tp

import numpy as np

from ...assets import DRUMS_CC0_DIR
from ...utils.errors import BeatLMError
from .arrangement import Hit, Layer, TimedNote

SAMPLE_EXTS = (".flac", ".wav")
FLUIDSYNTH_GAIN = 0.5
POLYPHONY = 32  # voices; FluidSynth's 256 lets release tails pile up (CPU), 32 steals only old tails


def default_soundfont() -> Path:
    """The TimGM6mb General MIDI soundfont that ships inside the pretty_midi wheel (always installed)."""
    import pretty_midi
    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def check_soundfont(path: tp.Union[str, Path]) -> Path:
    """Raise a BeatLMError unless `path` is a readable SoundFont 2 file (FluidSynth itself renders silence)."""
    path = Path(path)
    if not path.is_file():
        raise BeatLMError(f"soundfont {path} not found; pass --soundfont FILE.sf2 (e.g. "
                          "/usr/share/sounds/sf2/FluidR3_GM.sf2 from Debian's fluid-soundfont-gm) or leave it out "
                          "to use pretty_midi's TimGM6mb.sf2")
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise BeatLMError(f"{path} is not a SoundFont 2 (.sf2) file; pass --soundfont with a General MIDI .sf2 file")
    return path


def fluidsynth_binary() -> str:
    """Path of the `fluidsynth` program, or a BeatLMError saying how to install it."""
    found = shutil.which("fluidsynth")
    if found is None:
        raise BeatLMError("the fluidsynth program is not installed; install it with `apt-get install fluidsynth` "
                          "(Debian/Ubuntu) or `brew install fluid-synth` (macOS)")
    return found


def check_sample_dir(path: tp.Union[str, Path], names: tp.Iterable[str]) -> Path:
    """Raise a BeatLMError unless every sample of `names` is in `path`."""
    path = Path(path)
    if not path.is_dir():
        raise BeatLMError(f"sample folder {path} not found; pass --samples DIR or leave it out to use "
                          f"the bundled CC0 one-shots in {DRUMS_CC0_DIR}")
    missing = [n for n in names if not any((path / (n + ext)).is_file() for ext in SAMPLE_EXTS)]
    if missing:
        raise BeatLMError(f"sample folder {path} lacks {', '.join(missing[:5])}"
                          f"{' and more' if len(missing) > 5 else ''} (.flac or .wav); "
                          f"copy them from {DRUMS_CC0_DIR} or leave --samples out")
    return path


class SampleBank:
    """Mono one-shots resampled to the render rate, loaded once per process."""

    def __init__(self, folder: tp.Union[str, Path], sample_rate: int):
        self.folder = Path(folder)
        self.sample_rate = sample_rate

    @functools.lru_cache(maxsize=None)
    def get(self, name: str) -> np.ndarray:
        """The sample `name` as float32 mono at the bank's rate."""
        import soundfile as sf
        import soxr
        for ext in SAMPLE_EXTS:
            path = self.folder / (name + ext)
            if path.is_file():
                break
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
        wav = wav.mean(axis=1)
        if sr != self.sample_rate:
            wav = soxr.resample(wav, sr, self.sample_rate, quality="HQ")
        peak = float(np.abs(wav).max()) or 1.0
        return (wav / peak).astype(np.float32)

    def preload(self, names: tp.Iterable[str]) -> None:
        """Load (and resample) every sample now, so that per-clip timings exclude this one-off cost."""
        for name in names:
            self.get(name)

    @functools.lru_cache(maxsize=None)
    def pitch_of(self, name: str) -> float:
        """MIDI pitch (fractional) of the strongest partial between 30 Hz and 1.5 kHz: a drum's tuning."""
        wav = self.get(name)
        n = 1 << 15
        spectrum = np.abs(np.fft.rfft(wav[:n], n))
        freqs = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        band = (freqs > 30) & (freqs < 1500)
        peak = float(freqs[band][int(np.argmax(spectrum[band]))])
        return 69.0 + 12.0 * np.log2(peak / 440.0)

    def pitched(self, name: str, semitones: float) -> np.ndarray:
        """The sample shifted by `semitones` by resampling (faster and shorter when higher, like a sampler)."""
        wav = self.get(name)
        if abs(semitones) < 1e-3:
            return wav
        ratio = 2.0 ** (semitones / 12.0)
        positions = np.arange(0, len(wav) - 1, ratio)
        return np.interp(positions, np.arange(len(wav)), wav).astype(np.float32)


def place(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    """Add `sound * gain` into `out` at sample `start` (cut at the end)."""
    if start >= len(out):
        return
    n = min(len(sound), len(out) - start)
    out[start:start + n] += gain * sound[:n]


TUNED_ROLES = ("kick", "toms")


def render_hits(hits: tp.Sequence[Hit], bank: SampleBank, length: int, tonic: tp.Optional[int] = None
                ) -> tp.Dict[str, np.ndarray]:
    """One track per drum role (kick, snare, hat...); kicks and toms are tuned to the key when `tonic` is given."""
    tracks: tp.Dict[str, np.ndarray] = {}
    for hit in hits:
        track = tracks.setdefault(hit.role, np.zeros(length, np.float32))
        pitch = hit.pitch
        if tonic is not None and hit.role in TUNED_ROLES:
            pitch += tuning_shift(bank.pitch_of(hit.sample), tonic)
        place(track, bank.pitched(hit.sample, pitch), int(round(hit.time * bank.sample_rate)), hit.gain)
    return tracks


def tuning_shift(pitch: float, tonic: int) -> float:
    """Semitones (within +-6) that move a drum tuned at `pitch` onto the tonic, as producers tune kicks to the key."""
    return ((tonic - pitch + 6.0) % 12.0) - 6.0


def render_sampler(layer: Layer, bank: SampleBank, length: int) -> np.ndarray:
    """A melodic layer played on a one-shot sample (the phonk cowbell), transposed per note."""
    out = np.zeros(length, np.float32)
    assert layer.sample is not None
    reference = bank.pitch_of(layer.sample)
    for note in layer.notes:
        sound = bank.pitched(layer.sample, note.pitch - reference)
        place(out, sound, int(round(note.time * bank.sample_rate)), note.velocity)
    return out


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def render_808(notes: tp.Sequence[TimedNote], sample_rate: int, length: int, decay: float, distortion: float
               ) -> np.ndarray:
    """A sine 808: a short pitch drop at the attack, exponential decay, an optional glide into the next note,
    and tanh drive for harmonics (so it is heard on small speakers too).

    Args:
        notes: Notes in seconds; `glide_to` slides over the last third of the note.
        sample_rate: Output rate.
        length: Output length in samples.
        decay: Seconds for the amplitude to fall by 1/e (notes are also cut at their end).
        distortion: 0 (clean) to 1 (blown out).
    """
    out = np.zeros(length, np.float32)
    for note in notes:
        start = int(round(note.time * sample_rate))
        n = min(int(round(note.duration * sample_rate)), length - start)
        if n <= 0:
            continue
        t = np.arange(n) / sample_rate
        pitch = np.full(n, float(note.pitch))
        pitch += 12.0 * np.exp(-t / 0.012)  # the click of the attack: a fast drop from an octave above
        if note.glide_to is not None:
            g0 = int(n * 2 / 3)
            ramp = np.linspace(0.0, 1.0, n - g0)
            pitch[g0:] += (note.glide_to - note.pitch) * ramp
        freq = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        phase = 2 * np.pi * np.cumsum(freq) / sample_rate
        env = np.exp(-t / decay) * np.minimum(1.0, t / 0.002)
        release = min(n, int(0.01 * sample_rate))
        env[n - release:] *= np.linspace(1.0, 0.0, release)
        wave = np.sin(phase) * env * note.velocity
        if distortion > 0:
            drive = 1.0 + 8.0 * distortion
            wave = np.tanh(drive * wave) / np.tanh(drive)
        out[start:start + n] += wave.astype(np.float32)
    return out


def render_fluidsynth(tracks: tp.Sequence[tp.Tuple[int, tp.Sequence[TimedNote], float]], soundfont: Path,
                      sample_rate: int, length: int) -> np.ndarray:
    """Render General MIDI tracks in one run of the `fluidsynth` program (one run costs ~0.05 s to start).

    Args:
        tracks: (General MIDI program, notes, level in dB <= 0) per track; levels become channel volumes.
        soundfont: A .sf2 file.
        sample_rate: Output rate.
        length: Output length in samples.
    Returns:
        The mono mix of every track, float32.
    """
    import pretty_midi
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, notes, level_db in tracks:
        inst = pretty_midi.Instrument(program=program)
        volume = int(np.clip(round(127 * 10 ** (min(level_db, 0.0) / 40.0)), 1, 127))  # GM CC7 is 40 log10
        inst.control_changes.append(pretty_midi.ControlChange(number=7, value=volume, time=0.0))
        for n in notes:
            vel = int(np.clip(round(n.velocity * 110), 1, 127))
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=int(n.pitch), start=float(n.time),
                                               end=float(n.time + n.duration)))
        pm.instruments.append(inst)
    out = np.zeros(length, np.float32)
    if not any(inst.notes for inst in pm.instruments):
        return out
    with tempfile.TemporaryDirectory(prefix="beatlm-fs-") as tmp:
        midi_path, raw_path = os.path.join(tmp, "clip.mid"), os.path.join(tmp, "clip.raw")
        pm.write(midi_path)
        # Output to a file, not a pipe: reading a pipe in FluidSynth's small chunks costs more CPU than rendering.
        cmd = [fluidsynth_binary(), "-n", "-i", "-q", "-R", "0", "-C", "0", "-o", f"synth.polyphony={POLYPHONY}",
               "-r", str(sample_rate),
               "-g", str(FLUIDSYNTH_GAIN), "-O", "float", "-T", "raw", "-F", raw_path, str(soundfont), midi_path]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0 or not os.path.exists(raw_path):
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}")
        stereo = np.fromfile(raw_path, dtype=np.float32)
    mono = stereo[: len(stereo) // 2 * 2].reshape(-1, 2).mean(axis=1)
    n = min(length, len(mono))
    out[:n] = mono[:n]
    return out
