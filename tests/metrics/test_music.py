"""Tempo and key estimators (`beatlm.metrics.music`): the one implementation corpus stats and `beatlm eval` use."""

import numpy as np
import pytest

from beatlm.metrics import music

SR = 32000


def click_track(bpm: float, seconds: float = 8.0, sample_rate: int = SR) -> np.ndarray:
    """Short decaying noise bursts on every beat."""
    rng = np.random.default_rng(0)
    size = int(0.02 * sample_rate)
    burst = rng.standard_normal(size) * np.exp(-np.arange(size) / (0.004 * sample_rate))
    wav = np.zeros(int(seconds * sample_rate))
    for start in (np.arange(0, seconds, 60.0 / bpm) * sample_rate).astype(int):
        end = min(len(wav), start + size)
        wav[start:end] += burst[:end - start]
    return (0.5 * wav).astype(np.float32)


def chords(progression, sample_rate: int = 16000, seconds: float = 1.0) -> np.ndarray:
    """Sine triads (MIDI pitches), one per `seconds`, with a short fade out each."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    fade = np.minimum(1.0, (seconds - t) * 20)
    out = [sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in chord) / len(chord) * fade
           for chord in progression]
    return np.concatenate(out).astype(np.float32)


@pytest.mark.parametrize("bpm", [90, 125, 150])
def test_click_track_gives_its_tempo(bpm):
    estimate = music.estimate_tempo(click_track(bpm), SR)
    assert music.tempo_matches(estimate, bpm), estimate
    assert not music.tempo_matches(estimate, bpm * 1.1)  # a wrong BPM asked is a miss
    assert not music.tempo_matches(estimate, bpm / 2) and music.octave_error(estimate, bpm / 2)  # octave: a miss
    assert not music.tempo_matches(estimate, bpm * 2) and music.octave_error(estimate, bpm * 2)


def test_tempo_tolerance_and_octave_errors():
    assert music.tempo_matches(141.0, 140) and not music.tempo_matches(146.0, 140)
    assert not music.tempo_matches(70.0, 140) and music.octave_error(70.0, 140) and music.octave_error(281.0, 140)
    assert not music.octave_error(100.0, 140)


@pytest.mark.parametrize("key,progression", [
    ("A minor", [(57, 60, 64, 45)]),  # A3 C4 E4 + A2
    ("F# minor", [(54, 57, 61), (59, 62, 66), (61, 64, 68), (54, 57, 61)]),  # i iv v i
    ("Eb major", [(63, 67, 70), (68, 72, 75), (70, 74, 77), (63, 67, 70)]),  # I IV V I
])
def test_chords_give_their_key(key, progression):
    assert music.same_key(music.estimate_key(chords(progression), 16000), key)


def test_rendered_clips_give_their_key_and_tempo():
    from beatlm.assets import DRUMS_CC0_DIR
    from beatlm.dataset_builders.synth import instruments, render, styles
    config = render.RenderConfig(sample_rate=SR, duration=4.0, seed=3, soundfont=instruments.default_soundfont(),
                                 samples=DRUMS_CC0_DIR)
    bank = instruments.SampleBank(DRUMS_CC0_DIR, SR)
    for index in (1, 3):  # boom bap in Eb minor, jazz rap in C# major (with this seed)
        pcm, info = render.render_clip(styles.resolve_styles(None), index, config, bank)
        wav = pcm / 32768.0
        assert music.same_key(music.estimate_key(wav, SR), info["key"]), (index, info["key"])
        assert music.tempo_matches(music.estimate_tempo(wav, SR), float(info["bpm"]))


def test_key_labels():
    assert music.same_key("f# minor", "Gb minor") and music.same_key("Eb Major", "D# major")
    assert not music.same_key("A minor", "C major") and not music.same_key("A minor", "A major")
    assert music.split_key("Bb minor") == (10, "minor")
    with pytest.raises(ValueError):
        music.split_key("H minor")
    with pytest.raises(ValueError):
        music.split_key("A dorian")


def test_silence_gives_a_key_label_without_failing():
    key = music.estimate_key(np.zeros(SR, np.float32), SR)
    music.split_key(key)
