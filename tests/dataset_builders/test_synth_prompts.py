"""Evaluation prompts: tempo and key statements are recognised as the caption generator writes them."""

import numpy as np
import pytest

from beatlm.dataset_builders.synth import arrangement, captions, prompts, styles


@pytest.mark.parametrize("text,bpm,expected", [
    ("trap beat, 140 bpm", 140, True), ("Tempo: 140 BPM.", 140, True), ("dark, 140bpm, cold", 140, True),
    ("drill, bpm 140, B minor", 140, True), ("It moves at around 140 beats per minute.", 140, True),
    ("booming 808 bass", 80, False), ("a 180 bpm beat", 80, False), ("140 bpm", 40, False),
    ("trap beat at 140", 140, False), ("bpm 1400", 140, False),
])
def test_states_tempo(text, bpm, expected):
    assert prompts.states_tempo(text, bpm) == expected


@pytest.mark.parametrize("text,key,expected", [
    ("It is in A minor.", "A minor", True), ("key of A min", "A minor", True), ("C# maj, 90 bpm", "C# major", True),
    ("A minimal beat", "A minor", False), ("in Bb minor", "B minor", False), ("in C# minor", "C minor", False),
    ("in A major", "A minor", False),
])
def test_states_key(text, key, expected):
    assert prompts.states_key(text, key) == expected


def test_forced_mentions_and_unforced_captions_unchanged():
    chosen = list(styles.all_styles().values())
    for i in range(40):
        plan = arrangement.plan_clip(chosen[i % len(chosen)], 10.0, np.random.default_rng(i))
        moods = list(plan.style["words"]["moods"][:2])
        same = [captions.make_caption(plan, moods, np.random.default_rng(i), force=force) for force in (None, {})]
        assert same[0] == same[1] == captions.make_caption(plan, moods, np.random.default_rng(i))
        text = captions.make_caption(plan, moods, np.random.default_rng(i), force={"bpm": True})
        assert str(plan.bpm) in text
        text = captions.make_caption(plan, moods, np.random.default_rng(i), force={"bpm": False, "key": False})
        assert not prompts.states_tempo(text, plan.bpm) and not prompts.states_key(text, plan.key.name)
    with pytest.raises(KeyError, match="genre"):
        captions.make_caption(plan, moods, np.random.default_rng(0), force={"genre": True})
