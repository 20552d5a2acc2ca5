"""Structured captions of rap beats: the schema, its validation, near-duplicate removal, resumable output.

A caption is one JSON object per line of a JSON-lines file:

    {"id": "c-3f2a9e01b4", "description": "Dark trap beat with sliding 808s ...", "style": "trap", "bpm": 142,
     "key": "F minor", "moods": ["dark", "menacing"], "instruments": ["808", "hi-hats", "bells"],
     "query": "dark trap type beat 142 bpm", "source": {"backend": "openai", "model": "...", "request": 3}}

Captions come from a `CaptionSource` (`chat.ChatSource`: an OpenAI-compatible chat model;
`TemplateSource`: the corpus caption grammar of `synth`, offline). `write_captions` validates,
de-duplicates and appends them until the file holds `n`; re-running it continues where it stopped.
"""

import hashlib
from pathlib import Path
import re
import typing as tp

import numpy as np
import tqdm

from ..utils.errors import BeatLMError
from .records import JsonlWriter, read_jsonl
from .step_utils import StepSummary
from .synth.styles import all_styles

KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(maj(?:or)?|min(?:or)?|m)?\s*$")
TOKEN_RE = re.compile(r"[a-z0-9#]+")
STOP_WORDS = frozenset("a an the and with of in on at to for by from is it its this that beat".split())
BPM_RANGE = (50, 200)
MAX_LIST = 8
DESCRIPTION_CHARS = (10, 600)
QUERY_CHARS = (3, 120)


def style_names() -> tp.List[str]:
    """The sub-style names a caption may carry (styles.yaml)."""
    return list(all_styles())


def caption_schema() -> tp.Dict[str, tp.Any]:
    """JSON Schema of one caption as the chat model writes it (without `id` and `source`)."""
    words = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object", "additionalProperties": False,
        "required": ["description", "style", "bpm", "key", "moods", "instruments", "query"],
        "properties": {
            "description": {"type": "string", "description": "1-3 sentences describing the instrumental"},
            "style": {"type": "string", "enum": style_names()},
            "bpm": {"type": "integer", "description": f"tempo, {BPM_RANGE[0]}-{BPM_RANGE[1]}"},
            "key": {"type": ["string", "null"], "description": "e.g. 'F minor' or 'C# major'; null if unsure"},
            "moods": dict(words, description="2-4 mood words"),
            "instruments": dict(words, description="2-6 instruments heard"),
            "query": {"type": "string", "description": "a YouTube search query that finds such an instrumental"},
        },
    }


def response_schema() -> tp.Dict[str, tp.Any]:
    """JSON Schema of one chat answer: `{"captions": [caption, ...]}`."""
    return {"type": "object", "additionalProperties": False, "required": ["captions"],
            "properties": {"captions": {"type": "array", "items": caption_schema()}}}


def normalise_key(value: tp.Any) -> tp.Optional[str]:
    """'f min' -> 'F minor', 'C#' -> 'C# major', None -> None; raises ValueError on anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"key must be a string or null, got {type(value).__name__}")
    match = KEY_RE.match(value.replace("-", " "))
    if not match:
        raise ValueError(f"key {value!r} is not like 'F minor'")
    tonic, accidental, mode = match.groups()
    accidental = {"♯": "#", "♭": "b"}.get(accidental, accidental)
    mode = "minor" if mode and mode.lower().startswith("m") and not mode.lower().startswith("maj") else "major"
    return f"{tonic.upper()}{accidental} {mode}"


def _text(obj: tp.Mapping[str, tp.Any], name: str, bounds: tp.Tuple[int, int]) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    value = " ".join(value.split())
    if not bounds[0] <= len(value) <= bounds[1]:
        raise ValueError(f"{name} must have {bounds[0]}-{bounds[1]} characters, has {len(value)}")
    return value


def _words(obj: tp.Mapping[str, tp.Any], name: str) -> tp.List[str]:
    value = obj.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    words = list(dict.fromkeys(" ".join(v.lower().split()) for v in value if v.strip()))
    if not 1 <= len(words) <= MAX_LIST:
        raise ValueError(f"{name} must hold 1-{MAX_LIST} words, holds {len(words)}")
    return words


def _style(value: tp.Any) -> str:
    if not isinstance(value, str):
        raise ValueError("style must be a string")
    wanted = re.sub(r"[\s_-]+", "", value.lower())
    for name, style in all_styles().items():
        if wanted in (re.sub(r"[\s_-]+", "", name), re.sub(r"[\s_-]+", "", style.label)):
            return name
    raise ValueError(f"unknown style {value!r} (known: {', '.join(style_names())})")


def _bpm(value: tp.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"bpm must be an integer, got {value!r}")
    if not BPM_RANGE[0] <= value <= BPM_RANGE[1]:
        raise ValueError(f"bpm {value} outside {BPM_RANGE[0]}-{BPM_RANGE[1]}")
    return int(value)


def validate_caption(obj: tp.Any) -> tp.Dict[str, tp.Any]:
    """A caption checked against the schema and normalised (style name, canonical key, lower-case words).

    Raises:
        ValueError: naming the first field that is wrong.
    """
    if not isinstance(obj, dict):
        raise ValueError("a caption must be a JSON object")
    return {"description": _text(obj, "description", DESCRIPTION_CHARS), "style": _style(obj.get("style")),
            "bpm": _bpm(obj.get("bpm")), "key": normalise_key(obj.get("key")),
            "moods": _words(obj, "moods"), "instruments": _words(obj, "instruments"),
            "query": _text(obj, "query", QUERY_CHARS)}


def caption_id(description: str) -> str:
    """Stable id of a caption: a hash of its normalised description."""
    return "c-" + hashlib.sha1(" ".join(description.lower().split()).encode()).hexdigest()[:10]


def tokens(text: str) -> tp.FrozenSet[str]:
    """Normalised content tokens of a text (lower case, no punctuation, no stop words)."""
    return frozenset(TOKEN_RE.findall(text.lower())) - STOP_WORDS


class Deduper:
    """Near-duplicate filter: Jaccard similarity of normalised description tokens.

    Args:
        threshold: Captions at least this similar to a kept one are duplicates (1.0: exact token sets only).
    """

    def __init__(self, threshold: float = 0.8):
        if not 0.0 < threshold <= 1.0:
            raise BeatLMError(f"--dedup-threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._kept: tp.List[tp.FrozenSet[str]] = []
        self._index: tp.Dict[str, tp.List[int]] = {}

    def is_duplicate(self, text: str) -> bool:
        """Whether `text` is a near-duplicate of a kept text (compared only with texts sharing a token)."""
        toks = tokens(text)
        if not toks:
            return True
        seen: tp.Set[int] = set()
        for tok in toks:
            for i in self._index.get(tok, ()):
                if i in seen:
                    continue
                seen.add(i)
                other = self._kept[i]
                if len(toks & other) / len(toks | other) >= self.threshold:
                    return True
        return False

    def add(self, text: str) -> None:
        """Keep `text` for later comparisons."""
        toks = tokens(text)
        for tok in toks:
            self._index.setdefault(tok, []).append(len(self._kept))
        self._kept.append(toks)


class CaptionSource(tp.Protocol):
    """Where captions come from: batches of raw candidates (validated by `write_captions`)."""

    name: str
    stats: StepSummary  # the source's own counts (requests, retries) and failed requests
    stop_reason: tp.Optional[str]

    def batches(self, existing: tp.Sequence[tp.Mapping[str, tp.Any]]) -> tp.Iterator[tp.List[tp.Dict[str, tp.Any]]]:
        """Yield lists of candidate dicts, each with the caption fields and a `source` dict; end when exhausted."""
        ...


QUERY_TEMPLATES = ("{mood} {label} type beat", "{label} type beat {bpm} bpm", "{mood} {label} instrumental",
                   "{label} beat with {instrument}", "free {label} type beat {mood}", "{label} instrumental {bpm} bpm")


class TemplateSource:
    """Captions written offline by the corpus caption grammar (`synth.captions`, `captions.yaml`).

    Candidate `i` of `seed` is drawn like a corpus clip (a style per block, `plan_clip`, its moods,
    `make_caption`) from random streams of its own, so the same seed gives the same file.

    Args:
        seed: Caption seed.
        max_attempts: Stop after this many candidates in one run (the grammar may run out of distinct captions).
    """

    name = "template"
    STYLE_STREAM, PLAN_STREAM, CAPTION_STREAM = 9_437_185, 9_437_186, 9_437_187
    PLAN_SECONDS = 4.0

    def __init__(self, seed: int = 0, max_attempts: int = 1_000_000):
        self.seed = seed
        self.max_attempts = max_attempts
        self.stats = StepSummary("template")
        self.stop_reason: tp.Optional[str] = None

    def candidate(self, index: int) -> tp.Dict[str, tp.Any]:
        """Candidate `index`: depends only on the seed and the index."""
        from .synth.arrangement import instruments_of, plan_clip
        from .synth.captions import make_caption
        from .synth.render import clip_rng, clip_style, draw_moods
        styles = list(all_styles().values())
        style = clip_style(styles, self.seed, index, stream=self.STYLE_STREAM)
        plan = plan_clip(style, self.PLAN_SECONDS, clip_rng(self.seed, index, self.PLAN_STREAM))
        rng = clip_rng(self.seed, index, self.CAPTION_STREAM)
        moods = draw_moods(plan, rng)
        description = make_caption(plan, moods, rng)
        instruments = instruments_of(plan)
        query = _pick(QUERY_TEMPLATES, rng).format(mood=_pick(moods, rng), label=style.label, bpm=int(plan.bpm),
                                                   instrument=_pick(instruments[1:] or instruments, rng))
        return {"description": description, "style": style.name, "bpm": int(plan.bpm), "key": plan.key.name,
                "moods": moods, "instruments": instruments, "query": query,
                "source": {"backend": "template", "seed": self.seed, "index": index}}

    def batches(self, existing: tp.Sequence[tp.Mapping[str, tp.Any]]) -> tp.Iterator[tp.List[tp.Dict[str, tp.Any]]]:
        done = [r["source"]["index"] for r in existing if _is_template(r, self.seed)]
        start = max(done) + 1 if done else 0
        for index in range(start, start + self.max_attempts):
            yield [self.candidate(index)]
        self.stop_reason = f"{self.max_attempts} candidates tried"


def _pick(options: tp.Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _is_template(record: tp.Mapping[str, tp.Any], seed: int) -> bool:
    source = record.get("source")
    return (isinstance(source, dict) and source.get("backend") == "template" and source.get("seed") == seed
            and isinstance(source.get("index"), int))


def write_captions(out: tp.Union[str, Path], n: int, source: CaptionSource, dedup_threshold: float = 0.8,
                   progress: bool = True, max_consecutive_duplicates: int = 2000) -> StepSummary:
    """Append validated, de-duplicated captions from `source` to `out` until it holds `n`.

    Existing lines count towards `n` and are de-duplicated against; a line cut short by a kill is
    removed and rewritten. Returns the summary: `done` (written now), `skipped` (already there),
    `failed` (invalid candidates and failed requests, with reasons), extra counts (`duplicates`, `invalid`,
    the source's own) and notes.

    Args:
        out: JSON-lines file to create or continue.
        n: Captions wanted in the file.
        source: Where candidates come from.
        dedup_threshold: Jaccard similarity (normalised description tokens) at which a caption is a duplicate.
        progress: Show a progress bar.
        max_consecutive_duplicates: Give up after this many duplicates in a row (the source repeats itself).
    """
    out = Path(out)
    if n < 1:
        raise BeatLMError(f"--n must be at least 1, got {n}")
    deduper = Deduper(dedup_threshold)
    existing, broken = read_jsonl(out) if out.exists() and not out.is_dir() else ([], 0)
    for record in existing:
        deduper.add(str(record.get("description", "")))
    summary = StepSummary("captions", skipped=min(len(existing), n))
    if broken:
        summary.count("broken lines", broken)
    if len(existing) >= n:
        return summary
    kept, in_a_row = len(existing), 0
    with JsonlWriter(out) as writer, tqdm.tqdm(total=n, initial=kept, disable=not progress, unit="caption",
                                               desc="captions") as bar:
        if writer.repaired:
            summary.count("unfinished line removed")
        for batch in source.batches(existing):
            for candidate in batch:
                try:
                    caption = validate_caption({k: v for k, v in candidate.items() if k != "source"})
                except ValueError as exc:
                    summary.fail(f"candidate from {candidate.get('source', source.name)}", str(exc))
                    summary.count("invalid")
                    continue
                if deduper.is_duplicate(caption["description"]):
                    summary.count("duplicates")
                    in_a_row += 1
                    if in_a_row >= max_consecutive_duplicates:
                        source.stop_reason = f"{in_a_row} duplicates in a row (lower --dedup-threshold?)"
                        break
                    continue
                in_a_row = 0
                deduper.add(caption["description"])
                writer.write({"id": caption_id(caption["description"]), **caption,
                              "source": candidate.get("source", {"backend": source.name})})
                kept += 1
                summary.done += 1
                bar.update(1)
                if kept >= n:
                    break
            if kept >= n or in_a_row >= max_consecutive_duplicates:
                break
    summary.merge(source.stats)
    if kept < n and source.stop_reason:
        summary.notes.append(f"stopped with {kept}/{n}: {source.stop_reason}; re-run to continue")
    return summary
