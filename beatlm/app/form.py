"""The generate form, checked: what the page sends becomes a `GenerationRequest` or a BeatLMError saying why not.

Everything arrives from the browser (or from anyone calling the app's HTTP API), so nothing is trusted:
numbers may be strings, NaN, negative or absurd.
"""

from dataclasses import dataclass
import math
import random
import typing as tp

from ..cli.generate import MAX_SEED
from ..models.musiclm import MIN_DURATION, is_blank
from ..utils.errors import BeatLMError
from .presets import fold_prompt, parse_bpm_field, parse_key_field

MAX_PROMPT_CHARS = 1000  # MuLaN reads far fewer tokens; longer text is refused before it is tokenized
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class GenerationRequest:
    """One checked generation: the prompt as the model reads it (tempo and key folded in) and its settings."""
    prompt: str
    duration: float
    candidates: int
    seed: int
    bpm: tp.Optional[float] = None
    key: tp.Optional[str] = None


def _number(value: tp.Any, name: str) -> float:
    if isinstance(value, bool):
        raise BeatLMError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BeatLMError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise BeatLMError(f"{name} must be a finite number, got {value!r}")
    return number


def _whole(value: tp.Any, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise BeatLMError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def make_request(prompt: tp.Any, bpm: tp.Any, key: tp.Any, duration: tp.Any, candidates: tp.Any, seed: tp.Any,
                 max_duration: float) -> GenerationRequest:
    """Check the form and fold the tempo and key into the prompt.

    Args:
        prompt: The prompt box.
        bpm: The BPM field (empty for none).
        key: The key field (empty for none).
        duration: Seconds, in [MIN_DURATION, max_duration].
        candidates: Samples drawn, the best by MuLaN kept: 1 to MAX_CANDIDATES.
        seed: Empty or -1 for a random seed, else 0 to MAX_SEED.
        max_duration: Longest duration this app serves.

    Raises:
        BeatLMError: with a message for the page.
    """
    if not isinstance(prompt, str) or is_blank(prompt):
        raise BeatLMError("the prompt is empty: describe the beat, or pick a style preset")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BeatLMError(f"the prompt is {len(prompt)} characters long; keep it under {MAX_PROMPT_CHARS}")
    tempo, tonality = parse_bpm_field(bpm), parse_key_field(key)
    seconds = _number(duration, "duration")
    if not MIN_DURATION <= seconds <= max_duration:
        raise BeatLMError(f"duration must be between {MIN_DURATION:g} and {max_duration:g} seconds, got {seconds:g}")
    count = _whole(candidates, "candidates")
    if not 1 <= count <= MAX_CANDIDATES:
        raise BeatLMError(f"candidates must be between 1 and {MAX_CANDIDATES}, got {count}")
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        seed = -1
    number = _whole(seed, "seed")
    if number == -1:
        number = random.SystemRandom().randrange(2 ** 31)
    elif not 0 <= number <= MAX_SEED:
        raise BeatLMError(f"seed must be between 0 and {MAX_SEED} (or empty for a random one), got {number}")
    return GenerationRequest(fold_prompt(prompt, tempo, tonality), seconds, count, number, tempo, tonality)
