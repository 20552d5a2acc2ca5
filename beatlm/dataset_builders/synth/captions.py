"""Captions that read like people write: varied shapes, templates and synonyms, built from the ground truth.

Every statement a caption makes is true of its clip (the style, the instruments heard, the drum
features that actually occur, the exact BPM and key when they are mentioned). Which attributes are
mentioned is drawn per caption (captions.yaml `mention`), so the text model learns from free text.
"""

import functools
from pathlib import Path
import re
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
_DERIVED = {"a_": "article", "A_": "article", "Drums": "capitalize", "Bass": "capitalize"}


@functools.lru_cache(maxsize=None)
def vocabulary() -> tp.Dict[str, tp.Any]:
    """The parsed captions.yaml."""
    with open(CAPTIONS_FILE) as f:
        return yaml.safe_load(f)


def _tokens(text: str) -> tp.List[str]:
    """Lower-case words of a text, hyphenated words split into their parts (`mid-tempo` -> mid, tempo)."""
    return [part for word in text.lower().split() for part in word.strip(".,:;!?").split("-") if part]


def _content_words(text: str) -> tp.Set[str]:
    """The words of a text that would read as a repetition if said twice in one sentence."""
    return set(_tokens(text)) - set(vocabulary()["grammar"]["function_words"])


def is_plural(phrase: str) -> bool:
    """Whether a noun phrase takes a plural verb and no article (`strings`, `glassy bells`, `kick and snare`).

    The rule (word lists in captions.yaml `grammar`): a phrase joining things with "and" is plural;
    otherwise its head noun decides, the last word before any post-modifier ("ghost notes on the snare"
    -> notes, "808 with pitch glides" -> 808). A head ending in a plural -s (not -ss: bass, hiss,
    darkness) is plural unless it is one of the listed singular nouns (rhodes).
    """
    grammar = vocabulary()["grammar"]
    words = phrase.lower().split()
    if "and" in words:
        return True
    for i, word in enumerate(words):
        if i and word in grammar["postmodifiers"]:
            words = words[:i]
            break
    head = words[-1].strip(".,") if words else ""
    return head.endswith("s") and not head.endswith("ss") and head not in grammar["singular_nouns"]


def article(phrase: str) -> str:
    """`a trap` / `an 808` / `an ethereal`; plural phrases take none (`strings`, `glassy bells`)."""
    if is_plural(phrase):
        return phrase
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


def _base(name: str) -> tp.Tuple[str, tp.Optional[str]]:
    """The slot a field is derived from and how: `a_lead` -> (lead, article), `Drums` -> (drums, capitalize)."""
    if name[:2] in _DERIVED:
        return name[2:], _DERIVED[name[:2]]
    if name in _DERIVED:
        return name.lower(), _DERIVED[name]
    return name, None


class _Slots:
    """Draws a value for each caption slot from the clip's truth, once per caption.

    A slot drawn from synonyms remembers them: when its value would repeat a word of the sentence it
    goes into ("a drill beat beat", "piano chords chords", "an ethereal ethereal hip hop", "a mid-tempo
    tempo"), another synonym is drawn, and a sentence that cannot avoid the repetition is not used.
    Template fields `{verb@slot}` (e.g. `{plays@lead}`) agree in number with that slot's value.
    """

    def __init__(self, plan: ClipPlan, moods: tp.Sequence[str], rng: np.random.Generator):
        self.plan, self.moods, self.rng = plan, list(moods), rng
        self.vocab = vocabulary()
        self.words = plan.style["words"]
        self.values: tp.Dict[str, tp.Optional[str]] = {}
        self.options: tp.Dict[str, tp.List[str]] = {}
        table = instrument_table()
        self.layer_words: tp.Dict[str, tp.List[tp.List[str]]] = {"lead": [], "harmony": []}
        for layer in plan.layers:
            if not layer.notes:
                continue
            words = ["cowbell"] if layer.program is None else table[layer.program]["words"]
            self.layer_words["lead" if layer.role in LEAD_ROLES else "harmony"].append(list(words))
        self.group: tp.Dict[str, int] = {}
        if plan.bass_kind == "808":
            self.bass_words = list(self.vocab["bass_words"]["808"])
        else:
            self.bass_words = list(table[plan.bass_program]["words"])

    def pick(self, options: tp.Sequence[str]) -> str:
        return str(options[int(self.rng.integers(len(options)))])

    def _next_item(self, options: tp.Sequence[str], items: tp.Sequence[str]) -> str:
        """A random option for the next item of a list, preferring one that shares no word with the items
        before it, else one that does not start with the word the previous item ends with."""
        said = {w for item in items for w in _content_words(item)}
        fresh = [o for o in options if not _content_words(o) & said]
        if not fresh and items:
            fresh = [o for o in options if _tokens(o)[:1] != _tokens(items[-1])[-1:]]
        return self.pick(fresh or options)

    def _facts(self, facts: tp.Sequence[str]) -> tp.List[str]:
        return [f for f in facts if f in self.plan.tags]

    def _fact_phrases(self, facts: tp.Sequence[str]) -> tp.List[str]:
        return [self.pick(self.vocab["facts"][f]) for f in self._facts(facts)]

    def compute(self, name: str) -> tp.List[str]:
        """The synonyms a slot's value is drawn from (one when the value is fixed, none when it has none)."""
        plan = self.plan
        if name == "style":
            return list(self.words["names"])
        if name == "mood":
            return self.moods[:1]
        if name == "mood2":
            return self.moods[1:2]
        if name == "bpm":
            return [str(plan.bpm)]
        if name == "bpm_tag":
            return [f"{plan.bpm} bpm", f"{plan.bpm} BPM", f"{plan.bpm}bpm", f"bpm {plan.bpm}"]
        if name == "key":
            short = plan.key.name.replace("minor", "min").replace("major", "maj")
            return [plan.key.name, plan.key.name, short]
        if name == "tempo_word":
            return list(self.vocab["tempo_words"][tempo_word_class(plan.bpm, plan.style["half_time"])])
        if name == "drums":
            facts = self._fact_phrases(DRUM_FACTS)
            self.rng.shuffle(facts)
            options = facts[:2] if facts and self.rng.random() < 0.75 else [self.pick(self.words["drums"])] + facts[:1]
            return [_join(options)]
        if name == "bass":
            facts = self._facts(BASS_FACTS)
            if facts and self.rng.random() < 0.6:
                return [f[2:] if f.startswith("a ") else f for f in self.vocab["facts"][facts[0]]]
            return list(self.bass_words)
        if name in ("lead", "harmony"):
            groups = self.layer_words[name]
            if not groups:
                return []
            self.group[name] = int(self.rng.integers(len(groups)))
            return groups[self.group[name]]
        if name == "other":
            # another layer than the one named as the harmony
            self.get("harmony")
            groups = self.layer_words["lead"] + self.layer_words["harmony"]
            if "harmony" in self.group:
                del groups[len(self.layer_words["lead"]) + self.group["harmony"]]
            return groups[-1] if groups else []
        if name == "instrument_list":
            names: tp.List[str] = []
            for group in self.layer_words["lead"] + self.layer_words["harmony"]:
                names.append(self._next_item(group, names))
            if self.rng.random() < 0.7:
                names.append(self._next_item(self.bass_words, names))
            if self.rng.random() < 0.5:
                names.append("drums")
            return [_join(list(dict.fromkeys(names)))]
        if name == "production":
            facts = self._facts(PRODUCTION_FACTS)
            if facts and self.rng.random() < 0.7:
                return list(self.vocab["facts"][self.pick(facts)])
            return list(self.words["production"])
        if name == "use":
            return list(self.words["uses"])
        raise KeyError(name)

    def get(self, name: str) -> tp.Optional[str]:
        """The value of a field (`a_lead` and `Drums` are derived from the `lead` and `drums` slots)."""
        base, how = _base(name)
        if base not in self.values:
            self.options[base] = self.compute(base)
            self.values[base] = self.pick(self.options[base]) if self.options[base] else None
        value = self.values[base]
        if value is None or how is None:
            return value
        return article(value) if how == "article" else _capitalize(value)

    def resolve(self, name: str, avoid: tp.Set[str]) -> tp.Optional[str]:
        """The field's value, redrawn among its synonyms if it shares a word with `avoid`; None if it must."""
        value = self.get(name)
        if value is None or not _content_words(value) & avoid:
            return value
        base, _ = _base(name)
        fresh = [o for o in self.options[base] if not _content_words(o) & avoid]
        if not fresh:
            return None
        self.values[base] = self.pick(fresh)
        return self.get(name)

    def verb(self, field: str) -> tp.Optional[str]:
        """`plays@lead` -> `plays`, or `play` when the lead's value is plural."""
        singular, subject = field.split("@")
        value = self.get(subject)
        if value is None:
            return None
        return self.vocab["grammar"]["verbs"][singular] if is_plural(value) else singular

    def fill(self, template: str) -> tp.Optional[str]:
        """The template with its fields filled, or None when a field has no value or must repeat a word."""
        literal = "".join(text for text, _, _, _ in string.Formatter().parse(template))
        avoid = _content_words(literal)
        names = _fields(template)
        values: tp.Dict[str, str] = {}
        for name in (n for n in names if "@" not in n):
            value = self.resolve(name, avoid)
            if value is None:
                return None
            values[name] = value
            avoid |= _content_words(value)
        for name in (n for n in names if "@" in n):
            value = self.verb(name)
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


def _says(text: str, phrase: str) -> bool:
    """`phrase` is in `text` as whole words: "80" is not stated by "808", nor "E minor" by "THE minor"."""
    return bool(phrase) and re.search(rf"(?<![\w#]){re.escape(phrase)}(?![\w#])", text) is not None


def _prompt(slots: _Slots, mention: tp.Dict[str, bool], rng: np.random.Generator) -> str:
    templates = _allowed(vocabulary()["prompt"], mention)
    text = _choose(slots, templates, rng) or slots.fill("{style} beat") or "rap beat"
    if mention["bpm"] and not _says(text, slots.get("bpm") or ""):
        text += ", " + (slots.get("bpm_tag") or "")
    if mention["key"] and not _says(text, slots.get("key") or ""):
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
    parts: tp.List[str] = []
    for name in order:
        said = {w for p in parts for w in _content_words(p)}
        if " " in name or name == "instrumental":
            value: tp.Optional[str] = None if _content_words(name) & said else name
        else:
            value = slots.resolve(name, said)  # a tag repeating an earlier one's word is left out
        if value:
            parts.append(value)
    return ", ".join(parts)


def make_caption(plan: ClipPlan, moods: tp.Sequence[str], rng: np.random.Generator,
                 force: tp.Optional[tp.Mapping[str, bool]] = None) -> str:
    """One caption for a clip.

    Args:
        plan: The clip plan (its truth).
        moods: The moods written in the sidecar (the caption only uses these).
        rng: Random generator.
        force: Attributes of captions.yaml `mention` whose mention is fixed rather than drawn, e.g.
            `{"bpm": True}` for a caption stating the tempo. The mentions are drawn all the same (the
            generator's draws do not depend on whether `force` is given, only on what it changes).
    """
    vocab = vocabulary()
    mention = {k: bool(rng.random() < p) for k, p in vocab["mention"].items()}
    unknown = set(force or {}) - set(mention)
    if unknown:
        raise KeyError(f"cannot force the mention of {', '.join(sorted(unknown))}: not in captions.yaml `mention`")
    mention.update({k: bool(v) for k, v in (force or {}).items()})
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
