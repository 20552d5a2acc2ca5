import re

import numpy as np

from beatlm.dataset_builders.synth import arrangement, captions, styles


def _captions(n=320):
    out = []
    all_styles = list(styles.all_styles().values())
    for i in range(n):
        rng = np.random.default_rng(i)
        plan = arrangement.plan_clip(all_styles[i % len(all_styles)], 10.0, rng)
        moods = list(plan.style["words"]["moods"][:2])
        out.append((plan, captions.make_caption(plan, moods, rng)))
    return out


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
