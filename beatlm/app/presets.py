"""Style presets and the folding of the tempo and key fields into the prompt.

The prompts use the words the beat corpus captions use (`dataset_builders/synth/styles.yaml`), and the
tempo and key are written the way the captions write them ("90 bpm", "in A minor"), which is also what
`beatlm eval` reads back (`evaluation/prompts.py`) to measure tempo and key adherence.
"""

from dataclasses import dataclass
import math
import re
import typing as tp

from ..evaluation.prompts import BPM_RE, KEY_RE, parse_key
from ..utils.errors import BeatLMError

MIN_BPM, MAX_BPM = 40, 220  # what a rap beat can be; outside it the field is refused, not clamped


@dataclass(frozen=True)
class Preset:
    """A style the user can pick: the corpus style it stands for, a prompt to edit, a typical tempo."""
    style: str
    prompt: str
    bpm: int


PRESETS: tp.Dict[str, Preset] = {
    "boom bap": Preset("boom_bap", "90s boom bap beat, dusty drums, hard-hitting kick and snare, soulful piano", 90),
    "trap": Preset("trap", "dark trap beat, heavy 808, crisp hi-hats, snappy claps", 140),
    "drill": Preset("drill", "UK drill beat, sliding 808, skippy hi-hats, an eerie melody", 142),
    "lo-fi": Preset("lofi", "lofi hip hop beat, soft dusty drums, mellow electric piano, warm tape saturation", 84),
    "g-funk": Preset("gfunk", "west coast g-funk beat, funky drums, smooth synth lead, a bouncy groove", 94),
    "phonk": Preset("phonk", "drift phonk beat, cowbell melody, rattling hi-hats, heavy distortion", 135),
    "jazz rap": Preset("jazz_rap", "jazzy hip hop beat, swinging drums, upright bass, jazzy seventh chords", 90),
    "cloud": Preset("cloud", "cloud rap beat, ethereal pads, soft 808s, distant hi-hats", 140),
}


def parse_bpm_field(value: tp.Any) -> tp.Optional[float]:
    """The tempo field: empty -> None, else a number in [MIN_BPM, MAX_BPM] (BeatLMError otherwise)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        bpm = float(value)
    except (TypeError, ValueError):
        raise BeatLMError(f"BPM must be a number, got {value!r}") from None
    if not math.isfinite(bpm) or not MIN_BPM <= bpm <= MAX_BPM:
        raise BeatLMError(f"BPM must be between {MIN_BPM} and {MAX_BPM}, got {bpm:g}")
    return bpm


def parse_key_field(value: tp.Any) -> tp.Optional[str]:
    """The key field ("A minor", "F# major", "Ebm", "c min"): empty -> None, else `Eb minor` style."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BeatLMError(f"key must be text such as 'A minor', got {value!r}")
    text = value.strip()
    short = re.fullmatch(r"([A-Ga-g](?:#|b|♯|♭)?)\s*(m|M)?", text)  # "Ebm", "F#", "C": a bare tonic is major
    if short:
        text = f"{short.group(1)} {'minor' if short.group(2) == 'm' else 'major'}"
    key = parse_key(f"key of {text}")
    if key is None:
        raise BeatLMError(f"key must look like 'A minor', 'F# major' or 'Ebm', got {value!r}")
    return key


def fold_prompt(prompt: str, bpm: tp.Optional[float] = None, key: tp.Optional[str] = None) -> str:
    """The prompt with the tempo and key fields written into it ("..., 90 bpm, in A minor").

    A tempo or key the prompt already states is replaced by the field's, so the prompt never asks for two.

    Args:
        prompt: What the user typed.
        bpm: Tempo from the BPM field (None: leave the prompt's own).
        key: Key from the key field, as `parse_key_field` returns it (None: leave the prompt's own).
    """
    text = prompt.strip()
    if bpm is not None:
        text = BPM_RE.sub("", text)
    if key is not None:
        text = KEY_RE.sub("", text)
    parts = [p.strip() for p in re.split(r"\s*,\s*", text) if p.strip()] if (bpm or key) else [text]
    if bpm is not None:
        parts.append(f"{bpm:g} bpm")
    if key is not None:
        parts.append(f"in {key}")
    return ", ".join(parts)
