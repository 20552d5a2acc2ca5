import numpy as np

from beatlm.dataset_builders.synth import patterns, styles


def test_parse():
    assert patterns.parse("x...o...........") == [(0, 1.0), (4, patterns.SOFT)]


def _bars(style_name, n=200, **kwargs):
    style = styles.all_styles()[style_name]
    rng = np.random.default_rng(0)
    grammar = patterns.choose_grammar(style, rng, busy=False)
    out = []
    for _ in range(n):
        args = dict(section="verse", first=False, last=False, fill=None)
        args.update(kwargs)
        out.append(patterns.drum_bar(style, grammar, rng, **args))
    return out


def test_bars_stay_in_the_bar_and_have_a_backbeat():
    for hits, _ in _bars("boom_bap", 50):
        assert all(0 <= h.step < 16 for h in hits)
        assert {4, 12} <= {int(h.step) for h in hits if h.role == "snare"}
        assert 0 in {h.step for h in hits if h.role == "kick"}


def test_trap_has_rolls_and_triplets_and_half_time_snare():
    bars = _bars("trap")
    tags = set().union(*(t for _, t in bars))
    assert {"hat_rolls", "triplet_hats"} <= tags
    for hits, _ in bars:
        assert 8 in {h.step for h in hits if h.role == "snare"}
        assert 4 not in {h.step for h in hits if h.role == "snare" and h.velocity > 0.5}
    rolls = [h for hits, t in bars if "hat_rolls" in t for h in hits if h.role == "hat" and h.step % 1]
    assert rolls  # rolls put hats between 16th steps


def test_fills_change_the_end_of_the_bar():
    for fill in ("snare_roll", "tom_fill", "kick_drop", "hat_roll"):
        for hits, tags in _bars("boom_bap" if fill != "hat_roll" else "trap", 20, last=True, fill=fill):
            assert "fill" in tags and f"fill_{fill}" in tags
            end = [h for h in hits if h.step >= 12]
            if fill == "tom_fill":
                assert any(h.role == "toms" for h in end)
            if fill == "kick_drop":
                assert not any(h.role == "kick" for h in end)


def test_intro_has_no_kick_or_snare():
    for hits, _ in _bars("trap", 20, section="intro"):
        assert not any(h.role in ("kick", "snare") for h in hits)
