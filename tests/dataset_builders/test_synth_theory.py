from beatlm.dataset_builders.synth import theory


def test_degree_pitch_and_scales():
    key = theory.Key(9, "aeolian")  # A minor
    assert key.name == "A minor"
    assert key.degree_pitch(0, 4) == 69  # A4
    assert [key.degree_pitch(d, 4) % 12 for d in range(7)] == [9, 11, 0, 2, 4, 5, 7]
    assert key.degree_pitch(7, 4) == 81 and key.degree_pitch(-1, 4) == 67
    assert theory.Key(0, "harmonic").degree_pitch(6, 4) % 12 == 11  # raised leading tone
    assert theory.Key(2, "dorian").mode == "minor" and theory.Key(2, "mixolydian").mode == "major"


def test_roman_numerals():
    minor, major = theory.Key(0, "aeolian"), theory.Key(0, "ionian")
    assert [theory.roman(minor, d, 3) for d in range(7)] == ["i", "ii°", "III", "iv", "v", "VI", "VII"]
    assert theory.roman(theory.Key(0, "harmonic"), 4, 3) == "V"
    assert theory.roman(major, 0, 4) == "Imaj7" and theory.roman(major, 4, 4) == "V7"
    assert theory.roman(major, 6, 4) == "viiø7"


def test_voice_chord_is_close_and_smooth():
    pcs = theory.chord_pitch_classes(theory.Key(0, "ionian"), 0, 3)
    first = theory.voice_chord(pcs, 67)
    assert sorted(p % 12 for p in first) == [0, 4, 7] and max(first) - min(first) < 12
    second = theory.voice_chord(theory.chord_pitch_classes(theory.Key(0, "ionian"), 3, 3), 67, first)
    assert sum(min(abs(a - b) for b in first) for a in second) <= 4  # I -> IV moves at most a few semitones


def test_pitch_class_names():
    assert theory.pitch_class("F#") == 6 and theory.pitch_class("Gb") == 6 and theory.pitch_class("Bb") == 10
