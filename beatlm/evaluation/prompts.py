"""Evaluation prompts: a `.txt` file (one prompt a line) or `.jsonl` (objects with `prompt`, optional
`bpm`, `key`, `style`), with the tempo, key and style a prompt asks for.

In a text file the tempo ("140 bpm", "140bpm") and the key ("in A minor", "F# major", "key of Eb minor")
are read from the words; in JSONL the fields win over what the words say.
"""

from dataclasses import dataclass
import json
from pathlib import Path
import re
import typing as tp

from ..utils.errors import BeatLMError

# "140 bpm", "140bpm", "140-BPM", or the number after: "bpm 140", "BPM: 140".
BPM_RE = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)[\s-]*bpm\b|\bbpm\s*[:=]?\s*(\d{2,3}(?:\.\d+)?)(?![\d.])",
                    re.IGNORECASE)
_ACCIDENTAL = r"(?:#|♯|b|♭|-sharp|-flat|\s+sharp|\s+flat)?"
# A capital tonic followed by its mode ("F# minor"), or any case after "in" / "key of" ("in a minor").
KEY_RE = re.compile(rf"(?:\b((?-i:[A-G]){_ACCIDENTAL})|(?:\bin|\bkey\s+of|\bkey:?)\s+([a-gA-G]{_ACCIDENTAL}))"
                    r"\s*(major|minor|maj|min)\b", re.IGNORECASE)
MIN_BPM, MAX_BPM = 20.0, 400.0


@dataclass(frozen=True)
class Prompt:
    """One evaluation prompt and what it asks for (None: not asked)."""
    text: str
    bpm: tp.Optional[float] = None
    key: tp.Optional[str] = None
    style: tp.Optional[str] = None


def parse_bpm(text: str) -> tp.Optional[float]:
    """The tempo a prompt names ("140 bpm", "140bpm", "140 BPM", "bpm 140"), or None."""
    match = BPM_RE.search(text)
    if match is None:
        return None
    bpm = float(match.group(1) or match.group(2))
    return bpm if MIN_BPM <= bpm <= MAX_BPM else None


def _canonical_tonic(tonic: str) -> str:
    tonic = tonic.strip().lower().replace("♯", "#").replace("♭", "b")
    tonic = re.sub(r"[\s-]*sharp$", "#", re.sub(r"[\s-]*flat$", "b", tonic))
    return tonic[:1].upper() + tonic[1:]


def parse_key(text: str) -> tp.Optional[str]:
    """The key a prompt names, as `Eb minor` ("in A minor", "F# major", "key of Eb minor"), or None."""
    from ..dataset_builders.synth.theory import pitch_class
    for match in KEY_RE.finditer(text):
        tonic = _canonical_tonic(match.group(1) or match.group(2))
        mode = "major" if match.group(3).lower().startswith("maj") else "minor"
        try:
            pitch_class(tonic)
        except ValueError:  # e.g. "Fb": not a spelling the key estimator names
            continue
        return f"{tonic} {mode}"
    return None


def parse_style(text: str) -> tp.Optional[str]:
    """The corpus style a prompt names (the longest style name found in it, e.g. "jazzy boom bap"), or None."""
    from ..dataset_builders.synth.styles import all_styles
    lowered = f" {re.sub(r'[^a-z0-9]+', ' ', text.lower())} "
    best: tp.Tuple[int, tp.Optional[str]] = (0, None)
    for name, style in all_styles().items():
        for alias in [name.replace("_", " "), *style["words"]["names"]]:
            words = re.sub(r"[^a-z0-9]+", " ", alias.lower()).strip()
            if words and f" {words} " in lowered and len(words) > best[0]:
                best = (len(words), name)
    return best[1]


def parse_prompt(text: str) -> Prompt:
    """A prompt with the tempo, key and style its words name."""
    text = text.strip()
    return Prompt(text, parse_bpm(text), parse_key(text), parse_style(text))


def _from_json(obj: tp.Any, where: str) -> Prompt:
    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
        raise BeatLMError(f"{where}: expected an object with a non-empty \"prompt\" string")
    parsed = parse_prompt(obj["prompt"])
    bpm, key, style = parsed.bpm, parsed.key, parsed.style
    if obj.get("bpm") is not None:
        try:
            bpm = float(obj["bpm"])
        except (TypeError, ValueError):
            bpm = -1.0
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise BeatLMError(f"{where}: bpm must be a number in [{MIN_BPM:g}, {MAX_BPM:g}], got {obj['bpm']!r}")
    if obj.get("key") is not None:
        key = parse_key(f"key of {obj['key']}") if isinstance(obj["key"], str) else None
        if key is None:
            raise BeatLMError(f"{where}: key must look like 'A minor' or 'F# major', got {obj['key']!r}")
    if obj.get("style") is not None:
        style = str(obj["style"]).strip() or None
    return Prompt(parsed.text, bpm, key, style)


def read_prompts(path: tp.Union[str, Path]) -> tp.List[Prompt]:
    """The prompts of a `.jsonl` file (one JSON object a line) or any other text file (one prompt a line).

    Blank lines and lines starting with `#` are skipped.

    Raises:
        BeatLMError: the file is missing, unreadable, holds no prompt, or a JSONL line is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise BeatLMError(f"prompts file {path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BeatLMError(f"cannot read prompts file {path}: {exc}") from None
    prompts = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if path.suffix.lower() == ".jsonl":
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise BeatLMError(f"{path}:{number}: not JSON ({exc.args[0]})") from None
            prompts.append(_from_json(obj, f"{path}:{number}"))
        else:
            prompts.append(parse_prompt(line))
    if not prompts:
        raise BeatLMError(f"prompts file {path} holds no prompt (one per line, or JSONL objects with \"prompt\")")
    return prompts
