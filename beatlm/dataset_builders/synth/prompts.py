"""Held-out evaluation prompts: render parameters and captions drawn as the corpus draws them, no audio.

Prompt `i` of seed `S` is made like clip `i` of a corpus (a style per block of clips, `plan_clip`,
the clip's moods, `captions.make_caption`) but from random streams no corpus clip uses, so the
prompts are not the captions of a training corpus of the same seed. Each caption is made with its
tempo mention forced, and its key mention for every other prompt (all with `require_key`); a caption
that still does not state them (a template can leave them out) is replaced by the generator's next one.

    {"prompt": "dark trap beat, 140 bpm, in A minor", "bpm": 140, "key": "A minor", "style": "trap"}
"""

import json
from pathlib import Path
import re
import typing as tp

import numpy as np

from ...utils.errors import BeatLMError
from ...utils.files import atomic_path
from .arrangement import ClipPlan, plan_clip
from .captions import make_caption
from .render import clip_rng, clip_style, draw_moods
from .styles import Style, resolve_styles

PLAN_STREAM = 7_340_033  # random streams of prompts; corpus clips use 0, 1, 2 and 1_000_003 (style order)
CAPTION_STREAM = 7_340_034  # moods and captions, as stream 2 of a clip
STYLE_STREAM = 7_340_035
PLAN_DURATION = 10.0  # seconds of the planned clip whose facts (drum fills, rolls...) a prompt may state
MAX_ATTEMPTS = 100
MAX_PROMPTS = 100_000


def states_tempo(text: str, bpm: int) -> bool:
    """Whether `text` states the tempo as the caption generator writes it (`140 bpm`, `bpm 140`, `140 beats
    per minute`; any case), not merely the digits (`80` inside `808`)."""
    pattern = rf"(?<![\w.]){bpm}\s*(?:bpm|beats per minute)\b|\bbpm\s+{bpm}(?![\w.])"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def states_key(text: str, key: str) -> bool:
    """Whether `text` states the key `key` ('A minor'), in full or short ('A min')."""
    tonic, mode = key.split()
    pattern = rf"(?<![\w#]){re.escape(tonic)} {mode[:3]}(?:{mode[3:]})?\b"
    return re.search(pattern, text) is not None


def _caption(plan: ClipPlan, rng: np.random.Generator, with_key: bool) -> str:
    """The first caption of the generator that states the tempo (and the key if asked) for a plan."""
    moods = draw_moods(plan, rng)
    for _ in range(MAX_ATTEMPTS):
        text = make_caption(plan, moods, rng, force={"bpm": True, "key": with_key})
        if states_tempo(text, plan.bpm) and (states_key(text, plan.key.name) or not with_key):
            return text
    raise RuntimeError(f"no caption stating the tempo{' and key' if with_key else ''} in {MAX_ATTEMPTS} tries")


def make_prompt(styles: tp.Sequence[Style], seed: int, index: int, require_key: bool = False) -> tp.Dict[str, tp.Any]:
    """Prompt `index` of `seed`: {'prompt', 'bpm', 'key' (None where the prompt names no key), 'style'}.

    Args:
        styles: The styles drawn from (each block of len(styles) prompts holds every style once).
        seed: Prompt seed.
        index: Prompt index; a prompt depends only on (styles, seed, index, require_key).
        require_key: State the key in every prompt (otherwise in the even-numbered ones, and in others only
            where a caption happens to).
    """
    style = clip_style(styles, seed, index, stream=STYLE_STREAM)
    plan = plan_clip(style, PLAN_DURATION, clip_rng(seed, index, PLAN_STREAM))
    text = _caption(plan, clip_rng(seed, index, CAPTION_STREAM), with_key=require_key or index % 2 == 0)
    key = plan.key.name if states_key(text, plan.key.name) else None  # a key is asked only where it is named
    return {"prompt": text, "bpm": int(plan.bpm), "key": key, "style": style.name}


def make_prompts(num: int, seed: int, styles: tp.Optional[tp.Sequence[str]] = None,
                 require_key: bool = False) -> tp.List[tp.Dict[str, tp.Any]]:
    """`num` evaluation prompts (see `make_prompt`); the first n are the same whatever `num` is.

    Raises:
        BeatLMError: `num` out of range or an unknown style.
    """
    if not 1 <= num <= MAX_PROMPTS:
        raise BeatLMError(f"--num must be between 1 and {MAX_PROMPTS}, got {num}")
    chosen = resolve_styles(styles)
    return [make_prompt(chosen, seed, i, require_key) for i in range(num)]


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing output without `overwrite`, a folder in its place and a parent that is not a folder."""
    if out.is_dir():
        raise BeatLMError(f"--out {out} is a folder; give a file name such as {out / 'prompts.jsonl'}")
    if out.exists() and not overwrite:
        raise BeatLMError(f"{out} already exists; choose another --out or pass --overwrite")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise BeatLMError(f"cannot write {out}: {parent} is not a folder")


def write_prompts(prompts: tp.Sequence[tp.Mapping[str, tp.Any]], out: Path, overwrite: bool = False) -> Path:
    """Write prompts as JSON lines, atomically (an interrupted run leaves no partial file)."""
    check_output(out, overwrite)
    text = "".join(json.dumps(dict(p), ensure_ascii=False) + "\n" for p in prompts)
    try:
        with atomic_path(out, overwrite=overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except FileExistsError:
        raise BeatLMError(f"{out} already exists; choose another --out or pass --overwrite") from None
    except OSError as exc:
        raise BeatLMError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out
