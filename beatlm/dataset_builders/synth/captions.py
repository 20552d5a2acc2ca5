"""Captions that read like people write: varied shapes, templates and synonyms, built from the ground truth.

Every statement a caption makes is true of its clip (the style, the instruments heard, the drum
features that actually occur, the exact BPM and key when they are mentioned). Which attributes are
mentioned is drawn per caption (captions.yaml `mention`), so the text model learns from free text.
"""

import functools
from pathlib import Path
import string
import typing as tp

import numpy as np
import yaml

from .arrangement import ClipPlan
from .styles import instrument_table

CAPTIONS_FILE = Path(__file__).with_name("captions.yaml")
DRUM_FACTS = ("hat_rolls", "triplet_hats", "swing", "half_time", "ghost_snares", "syncopated_snare")
BASS_FACTS = ("glide_808", "distorted_808")
PRODUCTION_FACTS = ("vinyl", "big_reverb", "lowpass", "drum_dropout")
LEAD_ROLES = ("lead", "counter", "arp", "cowbell")
_A_EXCEPTIONS = ("uk", "one", "eu", "uni")


@functools.lru_cache(maxsize=None)
def vocabulary() -> tp.Dict[str, tp.Any]:
    """The parsed captions.yaml."""
    with open(CAPTIONS_FILE) as f:
        return yaml.safe_load(f)


def article(phrase: str) -> str:
    """`a trap` / `an 808` / `an ethereal`."""
    low = phrase.lower()
    vowel = low[:1] in "aeiou8" or low.startswith(("11", "18"))
    if low.startswith(_A_EXCEPTIONS):
        vowel = False
    return ("an " if vowel else "a ") + phrase


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: tp.Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def tempo_word_class(bpm: float, half_time: bool) -> str:
    """slow / medium / fast, as a listener would put it (half-time beats feel slower than their BPM)."""
    if bpm < 80:
        return "slow"
    if half_time:
        return "medium" if bpm <= 150 else "fast"
    return "medium" if bpm <= 110 else "fast"


def _fields(template: str) -> tp.List[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class _Slots:
    """Draws a value for each caption slot from the clip's truth, once per caption."""

    def __init__(self, plan: ClipPlan, moods: tp.Sequence[str], rng: np.random.Generator):
        self.plan, self.moods, self.rng = plan, list(moods), rng
        self.vocab = vocabulary()
        self.words = plan.style["words"]
        self.values: tp.Dict[str, tp.Optional[str]] = {}
        table = instrument_table()
        self.layer_words: tp.Dict[str, tp.List[tp.List[str]]] = {"lead": [], "harmony": []}
        for layer in plan.layers:
            if not layer.notes:
                continue
            words = ["cowbell"] if layer.program is None else table[layer.program]["words"]
            self.layer_words["lead" if layer.role in LEAD_ROLES else "harmony"].append(list(words))
        if plan.bass_kind == "808":
            self.bass_words = list(self.vocab["bass_words"]["808"])
        else:
            self.bass_words = list(table[plan.bass_program]["words"])

    def pick(self, options: tp.Sequence[str]) -> str:
        return str(options[int(self.rng.integers(len(options)))])

    def _fact_phrases(self, facts: tp.Sequence[str]) -> tp.List[str]:
        return [self.pick(self.vocab["facts"][f]) for f in facts if f in self.plan.tags]

    def compute(self, name: str) -> tp.Optional[str]:
        plan = self.plan
        if name in ("a_style", "A_style"):
            value = article(self.get("style") or "")
        elif name in ("a_mood", "a_bass", "a_lead", "a_harmony", "a_other", "A_bass", "A_lead", "A_harmony"):
            base = self.get(name[2:])
            value = article(base) if base else None
        elif name in ("Drums", "Bass"):
            base = self.get(name.lower())
            value = _capitalize(base) if base else None
        elif name == "style":
            value = self.pick(self.words["names"])
        elif name == "mood":
            value = self.moods[0] if self.moods else None
        elif name == "mood2":
            value = self.moods[1] if len(self.moods) > 1 else None
        elif name == "bpm":
            value = str(plan.bpm)
        elif name == "bpm_tag":
            value = self.pick([f"{plan.bpm} bpm", f"{plan.bpm} BPM", f"{plan.bpm}bpm", f"bpm {plan.bpm}"])
        elif name == "key":
            short = plan.key.name.replace("minor", "min").replace("major", "maj")
            value = self.pick([plan.key.name, plan.key.name, short])
        elif name == "tempo_word":
            value = self.pick(self.vocab["tempo_words"][tempo_word_class(plan.bpm, plan.style["half_time"])])
        elif name == "drums":
            facts = self._fact_phrases(DRUM_FACTS)
            self.rng.shuffle(facts)
            options = facts[:2] if facts and self.rng.random() < 0.75 else [self.pick(self.words["drums"])] + facts[:1]
            value = _join(options)
        elif name == "bass":
            value = self.pick(self.bass_words)
            facts = self._fact_phrases(BASS_FACTS)
            if facts and self.rng.random() < 0.6:
                value = facts[0][2:] if facts[0].startswith("a ") else facts[0]
        elif name in ("lead", "harmony"):
            groups = self.layer_words[name]
            value = self.pick(groups[int(self.rng.integers(len(groups)))]) if groups else None
        elif name == "other":
            groups = self.layer_words["lead"] + self.layer_words["harmony"]
            value = self.pick(groups[-1]) if len(groups) > 1 else None
        elif name == "instrument_list":
            names = [self.pick(g) for g in self.layer_words["lead"] + self.layer_words["harmony"]]
            if self.rng.random() < 0.7:
                names.append(self.pick(self.bass_words))
            if self.rng.random() < 0.5:
                names.append("drums")
            value = _join(list(dict.fromkeys(names)))
        elif name == "production":
            facts = self._fact_phrases(PRODUCTION_FACTS)
            value = self.pick(facts) if facts and self.rng.random() < 0.7 else self.pick(self.words["production"])
        elif name == "use":
            value = self.pick(self.words["uses"])
        else:
            raise KeyError(name)
        return value

    def get(self, name: str) -> tp.Optional[str]:
        if name not in self.values:
            self.values[name] = self.compute(name)
        return self.values[name]

    def fill(self, template: str) -> tp.Optional[str]:
        values = {}
        for name in _fields(template):
            value = self.get(name)
            if value is None:
                return None
            values[name] = value
        return template.format(**values)


def _choose(slots: _Slots, templates: tp.Sequence[str], rng: np.random.Generator) -> tp.Optional[str]:
    for i in rng.permutation(len(templates)):
        text = slots.fill(templates[int(i)])
        if text is not None:
            return text
    return None


def _allowed(templates: tp.Sequence[str], mention: tp.Dict[str, bool]) -> tp.List[str]:
    out = []
    for t in templates:
        fields = set(_fields(t))
        if not mention["bpm"] and {"bpm", "bpm_tag"} & fields:
            continue
        if not mention["key"] and "key" in fields:
            continue
        if not mention["style"] and {"style", "a_style", "A_style"} & fields:
            continue
        out.append(t)
    return out


def _paragraph(slots: _Slots, mention: tp.Dict[str, bool], rng: np.random.Generator) -> str:
    p = vocabulary()["paragraph"]
    sentences = [_choose(slots, p["opener"] if mention["style"] else p["opener_nostyle"], rng)]
    body = []
    if mention["bpm"]:
        body.append(_choose(slots, p["tempo"], rng))
    elif mention["tempo_word"]:
        body.append(_choose(slots, p["tempo_vague"], rng))
    if mention["key"]:
        body.append(_choose(slots, p["key"], rng))
    for part in ("drums", "bass", "instruments", "mood", "production"):
        if mention[part]:
            body.append(_choose(slots, p[part], rng))
    order = rng.permutation(len(body))
    sentences += [body[int(i)] for i in order]
    if mention["use"]:
        sentences.append(_choose(slots, p["use"], rng))
    if mention["no_vocals"]:
        sentences.append(_choose(slots, p["no_vocals"], rng))
    return " ".join(_capitalize(s) for s in sentences if s)


def _prompt(slots: _Slots, mention: tp.Dict[str, bool], rng: np.random.Generator) -> str:
    templates = _allowed(vocabulary()["prompt"], mention)
    text = _choose(slots, templates, rng) or (slots.get("style") or "rap") + " beat"
    if mention["bpm"] and slots.get("bpm") not in text:
        text += ", " + (slots.get("bpm_tag") or "")
    if mention["key"] and (slots.get("key") or "") not in text:
        text += rng.choice([", in ", ", key of ", ", "]) + (slots.get("key") or "")
    return text if rng.random() < 0.6 else _capitalize(text)


def _tags(slots: _Slots, mention: tp.Dict[str, bool], rng: np.random.Generator) -> str:
    names = [t for t in vocabulary()["tags"] if t not in ("style", "bpm_tag", "key")]
    chosen = [names[int(i)] for i in rng.permutation(len(names))[: int(rng.integers(3, 7))]]
    order = (["style"] if mention["style"] else []) + chosen
    if mention["bpm"]:
        order.insert(int(rng.integers(0, len(order) + 1)), "bpm_tag")
    if mention["key"]:
        order.insert(int(rng.integers(0, len(order) + 1)), "key")
    parts = []
    for name in order:
        value = name if " " in name or name == "instrumental" else slots.get(name)
        if value and value not in parts:
            parts.append(value)
    return ", ".join(parts)


def make_caption(plan: ClipPlan, moods: tp.Sequence[str], rng: np.random.Generator) -> str:
    """One caption for a clip.

    Args:
        plan: The clip plan (its truth).
        moods: The moods written in the sidecar (the caption only uses these).
        rng: Random generator.
    """
    vocab = vocabulary()
    mention = {k: bool(rng.random() < p) for k, p in vocab["mention"].items()}
    slots = _Slots(plan, moods, rng)
    shapes = list(vocab["shapes"])
    weights = np.array([vocab["shapes"][s] for s in shapes], dtype=float)
    shape = shapes[int(rng.choice(len(shapes), p=weights / weights.sum()))]
    if shape == "paragraph":
        return _paragraph(slots, mention, rng)
    if shape == "prompt":
        return _prompt(slots, mention, rng)
    return _tags(slots, mention, rng)


def make_title(rng: np.random.Generator) -> str:
    """A made-up track title."""
    titles = vocabulary()["titles"]
    first, second = titles["first"], titles["second"]
    return f"{first[int(rng.integers(len(first)))]} {second[int(rng.integers(len(second)))]}"
