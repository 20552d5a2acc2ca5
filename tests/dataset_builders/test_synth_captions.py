import dataclasses
import functools
import re

import numpy as np

from beatlm.dataset_builders.synth import arrangement, captions, styles


@functools.lru_cache(maxsize=None)
def _sample(n):
    out = []
    all_styles = list(styles.all_styles().values())
    for i in range(n):
        rng = np.random.default_rng(i)
        plan = arrangement.plan_clip(all_styles[i % len(all_styles)], 10.0, rng)
        moods = list(plan.style["words"]["moods"][:2])
        out.append((plan, captions.make_caption(plan, moods, rng)))
    return tuple(out)


def _captions(n=320):
    """Captions of clips 0..n-1 (clip i only depends on i, so one cached sample serves every test)."""
    return list(_sample(max(n, 1200))[:n])


def test_bpm_in_about_half_and_key_in_about_a_third():
    caps = _captions()
    bpm = [str(p.bpm) in re.findall(r"\d+", c) for p, c in caps]
    key = [p.key.name.split()[0].lower() + " " + p.key.mode[:3] in c.lower() for p, c in caps]
    assert 0.4 <= np.mean(bpm) <= 0.6, np.mean(bpm)
    assert 0.25 <= np.mean(key) <= 0.42, np.mean(key)


def test_stated_facts_are_true():
    for plan, text in _captions(200):
        for number in re.findall(r"(\d+) ?bpm", text, flags=re.I):
            assert int(number) == plan.bpm
        low = text.lower()
        if "808" in low:
            assert plan.bass_kind == "808", text
        if "hi-hat rolls" in low or "rolling hats" in low:
            assert "hat_rolls" in plan.tags, text
        if "vinyl" in low or "record hiss" in low:
            assert "vinyl" in plan.tags, text
        for name in ("major", "minor"):
            if re.search(rf"\b[A-G][#b]? {name}\b", text):
                assert plan.key.mode == name, text


def test_captions_are_varied():
    caps = [c for _, c in _captions()]
    assert len(set(caps)) == len(caps)
    openers = {" ".join(c.split()[:3]).lower() for c in caps}
    assert len(openers) > 60  # not one sentence pattern
    lengths = [len(c.split()) for c in caps]
    assert min(lengths) < 12 and max(lengths) > 40
    assert any("," in c and "." not in c for c in caps) and any(c.count(".") >= 3 for c in caps)


def test_article():
    assert captions.article("808") == "an 808" and captions.article("trap") == "a trap"
    assert captions.article("UK drill") == "a UK drill" and captions.article("ethereal") == "an ethereal"


def test_every_article_agrees_with_its_word():
    """"an east coast", "an upbeat tempo": no template writes the article itself before a slot."""
    for _, text in _captions(1200):
        for article, word in re.findall(r"\b(an?) ([\w-]+)", text, flags=re.IGNORECASE):
            if not captions.is_plural(word):  # "a" before a plural: test_captions_read_grammatically
                assert captions.article(word).split()[0] == article.lower(), text


def _instrument_phrases():
    return {w.lower() for entry in styles.instrument_table().values() for w in entry["words"]}


def test_plural_rule():
    for phrase in ("strings", "glassy bells", "piano chords", "vibes", "rhodes keys", "brass stabs", "horns",
                   "hi-hat rolls", "ghost notes on the snare", "hard-hitting kick and snare"):
        assert captions.is_plural(phrase), phrase
    for phrase in ("rhodes", "fender rhodes", "bass guitar", "brass section", "bell melody", "sax",
                   "808 with pitch glides", "record hiss", "cinematic darkness", "a section where the drums drop out"):
        assert not captions.is_plural(phrase), phrase
    assert captions.article("strings") == "strings" and captions.article("glassy bells") == "glassy bells"
    assert captions.article("rhodes") == "a rhodes" and captions.article("rhodes keys") == "rhodes keys"
    # an instrument word whose head ends in -s is singular only by decision (a new one must be looked at)
    singular_s = {w.split()[-1] for w in _instrument_phrases() if w.endswith("s") and not captions.is_plural(w)}
    assert singular_s == {"bass", "rhodes"}, singular_s
    grammar = captions.vocabulary()["grammar"]
    for name in ("singular_nouns", "postmodifiers", "function_words"):
        assert all(isinstance(w, str) for w in grammar[name]), name  # a bare `on`/`no` is a YAML boolean


def test_captions_read_grammatically():
    grammar = captions.vocabulary()["grammar"]
    plural = sorted((w for w in _instrument_phrases() if captions.is_plural(w)), key=len, reverse=True)
    assert {"strings", "piano chords", "glassy bells", "vibes", "rhodes keys"} <= set(plural)
    plural_re = "|".join(re.escape(w) for w in plural)
    singular_verbs, plural_verbs = list(grammar["verbs"]), list(grammar["verbs"].values())
    verb_re = "|".join(singular_verbs + plural_verbs)
    # the sentence templates with a verb agreeing with their subject
    subject_verb = re.compile(rf"^(?:an? )?(.+?) ({verb_re}) (the groove|down the low end|the chords|"
                              r"a catchy riff|the main melody)\b")
    there_is = re.compile(r"^there (is|are) (?:an? )?(.+?) (underneath|throughout)\b")
    plural_subjects = 0
    for _, text in _captions(1200):
        low = text.lower()
        parts = [p for w in re.findall(r"[a-z0-9'-]+", low) for p in w.split("-") if p]
        doubled = [a for a, b in zip(parts, parts[1:]) if a == b]
        assert not doubled, text  # "piano chords chords", "a drill beat beat", "a mid-tempo tempo"
        assert not re.search(rf"\ban? ({plural_re})\b", low), text  # "a piano chords"
        assert not re.search(rf"\b({plural_re}) ({'|'.join(singular_verbs)})\b", low), text  # "strings plays"
        for sentence in re.split(r"(?<=\.) ", low):
            m = subject_verb.match(sentence)
            if m:
                plural_subjects += captions.is_plural(m.group(1))
                assert (m.group(2) in plural_verbs) == captions.is_plural(m.group(1)), text
            m = there_is.match(sentence)
            if m:
                assert (m.group(1) == "are") == captions.is_plural(m.group(2)), text
    assert plural_subjects > 50  # the plural verb forms are exercised ("Strings play the chords")


def test_a_tempo_of_80_is_stated_beside_an_808():
    trap = styles.all_styles()["trap"]
    missing, with_808 = [], 0
    for seed in range(60):
        plan = arrangement.plan_clip(trap, 10.0, np.random.default_rng(seed))
        if plan.bass_kind != "808":
            continue
        plan = dataclasses.replace(plan, bpm=80)
        rng = np.random.default_rng(seed)
        mention = {key: True for key in captions.vocabulary()["mention"]}
        text = captions._prompt(captions._Slots(plan, ["dark"], rng), mention, rng)
        with_808 += "808" in text
        if "80" not in re.findall(r"\d+", text):
            missing.append(text)
    assert with_808 and not missing, missing[:5]


def test_says_matches_whole_words_only():
    assert captions._says("dark trap, 808 slides", "808")
    assert not captions._says("dark trap, 808 slides", "80")  # "808" does not state 80 bpm
    assert captions._says("lofi beat, 80 bpm", "80")
    assert captions._says("in C# minor", "C# minor") and not captions._says("in C# minor", "C")
    assert not captions._says("anything", "")
