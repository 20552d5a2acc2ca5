"""Style presets and the folding of BPM and key into the prompt."""

import pytest

from beatlm.app.presets import MAX_BPM, MIN_BPM, PRESETS, fold_prompt, parse_bpm_field, parse_key_field
from beatlm.evaluation.prompts import parse_bpm, parse_key, parse_style
from beatlm.utils.errors import BeatLMError


def test_the_issue_s_eight_presets():
    assert list(PRESETS) == ["boom bap", "trap", "drill", "lo-fi", "g-funk", "phonk", "jazz rap", "cloud"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_names_its_corpus_style_and_a_tempo_of_that_style(name):
    from beatlm.dataset_builders.synth.styles import all_styles
    preset = PRESETS[name]
    low, high = all_styles()[preset.style]["bpm"]
    assert parse_style(preset.prompt) == preset.style  # in words the corpus captions use
    assert low <= preset.bpm <= high
    assert parse_bpm(preset.prompt) is None and parse_key(preset.prompt) is None  # the fields carry them


def test_fold_appends_tempo_and_key_as_the_captions_write_them():
    folded = fold_prompt("dark trap beat, heavy 808", 140, "A minor")
    assert folded == "dark trap beat, heavy 808, 140 bpm, in A minor"
    assert parse_bpm(folded) == 140 and parse_key(folded) == "A minor"


def test_fold_replaces_what_the_prompt_already_says():
    folded = fold_prompt("boom bap beat, 90 bpm, in C major, dusty drums", 84.5, "F# minor")
    assert parse_bpm(folded) == 84.5 and parse_key(folded) == "F# minor"
    assert "90" not in folded and "C major" not in folded
    assert folded.startswith("boom bap beat, dusty drums")


def test_fold_without_fields_keeps_the_prompt():
    assert fold_prompt("  lofi beat, 80 bpm in D minor ") == "lofi beat, 80 bpm in D minor"
    assert fold_prompt("lofi beat", 80, None) == "lofi beat, 80 bpm"


@pytest.mark.parametrize("value, expected", [("", None), (None, None), ("  ", None), ("90", 90.0), (140, 140.0),
                                             ("84.5", 84.5), (MIN_BPM, MIN_BPM), (MAX_BPM, MAX_BPM)])
def test_bpm_field(value, expected):
    assert parse_bpm_field(value) == expected


@pytest.mark.parametrize("value", ["fast", "0", "-90", "1e9", "nan", "inf", MAX_BPM + 1, MIN_BPM - 1, [90]])
def test_absurd_bpm_is_refused(value):
    with pytest.raises(BeatLMError, match="BPM"):
        parse_bpm_field(value)


@pytest.mark.parametrize("value, expected", [("A minor", "A minor"), ("f# major", "F# major"), ("Ebm", "Eb minor"),
                                             ("C", "C major"), ("Bb min", "Bb minor"), ("g maj", "G major"),
                                             ("", None), (None, None)])
def test_key_field(value, expected):
    assert parse_key_field(value) == expected


@pytest.mark.parametrize("value", ["H minor", "minor", "A dorian", "C## major", 5, "in the key of life"])
def test_bad_key_is_refused(value):
    with pytest.raises(BeatLMError, match="key"):
        parse_key_field(value)
