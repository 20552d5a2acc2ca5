import numpy as np
import pytest

from beatlm.dataset_builders.synth import arrangement, lines, styles
from beatlm.dataset_builders.synth.theory import chord_pitch_classes


def _plan(style="trap", seed=0, duration=10.0):
    return arrangement.plan_clip(styles.all_styles()[style], duration, np.random.default_rng(seed))


def test_step_time_swing():
    assert arrangement.step_time(4, 120, 0.5) == pytest.approx(0.5)
    assert arrangement.step_time(1, 120, 0.5) == pytest.approx(0.125)
    assert arrangement.step_time(1, 120, 0.6) == pytest.approx(0.15)  # the off-beat 16th is late
    assert arrangement.step_time(2, 120, 0.6) == pytest.approx(0.25)  # on-beat 8ths do not move


def test_same_seed_same_plan_and_different_seed_differs():
    a, b, c = _plan(seed=1), _plan(seed=1), _plan(seed=2)
    assert [(h.time, h.sample) for h in a.hits] == [(h.time, h.sample) for h in b.hits]
    assert (a.bpm, a.key) == (b.bpm, b.key)
    assert [(h.time, h.sample) for h in a.hits] != [(h.time, h.sample) for h in c.hits]


@pytest.mark.parametrize("style", sorted(styles.all_styles()))
def test_plans_follow_the_style(style):
    spec = styles.all_styles()[style]
    for seed in range(6):
        plan = _plan(style, seed)
        assert spec["bpm"][0] <= plan.bpm <= spec["bpm"][1]
        assert 1 <= len(plan.layers) <= 3
        assert all(s["bars"] in (4, 8) for s in plan.sections)
        assert plan.hits and all(0 <= h.time < plan.duration for h in plan.hits)
        assert any(layer.notes for layer in plan.layers)
        assert plan.start_bar % (len(plan.progression) * plan.bars_per_chord) == 0


def test_song_has_sections_fills_and_variation():
    plan = _plan("boom_bap", 5, duration=30.0)
    assert len(plan.sections) >= 2
    assert "fill" in plan.tags
    bar = plan.bar_seconds
    bars = {}
    for h in plan.hits:
        bars.setdefault(int(h.time // bar), []).append((round(h.time % bar, 3), h.role))
    assert len({tuple(sorted(v)) for v in bars.values()}) > 1  # not a single looped bar


def test_bass_follows_the_chords():
    for seed in range(5):
        style = styles.all_styles()["lofi"]
        key_plan = _plan("lofi", seed)
        chords = lines.chord_timeline(key_plan.progression, key_plan.chord_size, key_plan.bars_per_chord, 64)
        notes = lines.bass_line("gm", "sustain", key_plan.key, chords, [], list(range(8)), 2, 0.0,
                                np.random.default_rng(seed))
        for note in notes:
            span = lines.chord_at(chords, note.step)
            assert note.pitch % 12 == chord_pitch_classes(key_plan.key, span.degree, 3)[0]
        assert style["bass"]["kind"] == "gm"


def test_808_glides():
    glides = [n for seed in range(10) for n in _plan("drill", seed).bass if n.glide_to is not None]
    assert glides and all(n.glide_to != n.pitch for n in glides)
