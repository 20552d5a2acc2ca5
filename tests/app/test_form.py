"""The generate form: what the page (or anyone calling the HTTP API) sends is checked before it reaches the model."""

import pytest

from beatlm.app.form import MAX_CANDIDATES, MAX_PROMPT_CHARS, make_request
from beatlm.cli.generate import MAX_SEED
from beatlm.utils.errors import BeatLMError


def request(**changes):
    fields = dict(prompt="trap beat", bpm="140", key="A minor", duration=4, candidates=2, seed="7", max_duration=30)
    fields.update(changes)
    return make_request(**fields)


def test_a_good_form_becomes_a_request_with_tempo_and_key_folded_in():
    got = request()
    assert got.prompt == "trap beat, 140 bpm, in A minor"
    assert (got.duration, got.candidates, got.seed, got.bpm, got.key) == (4.0, 2, 7, 140.0, "A minor")


def test_sliders_send_floats_and_an_empty_seed_is_random():
    got = request(candidates=3.0, seed="", bpm="", key="")
    assert got.candidates == 3 and got.prompt == "trap beat"
    assert 0 <= got.seed < 2 ** 31
    assert 0 <= request(seed=-1).seed < 2 ** 31


@pytest.mark.parametrize("prompt", ["", "   ", "\u200b\n", None, 42])
def test_empty_prompt(prompt):
    with pytest.raises(BeatLMError, match="prompt is empty"):
        request(prompt=prompt)


def test_huge_prompt():
    with pytest.raises(BeatLMError, match="characters"):
        request(prompt="a" * (MAX_PROMPT_CHARS + 1))


@pytest.mark.parametrize("duration", [0, 0.1, -3, 31, 1e12, "nan", "inf", "long", None, True])
def test_absurd_duration(duration):
    with pytest.raises(BeatLMError, match="duration"):
        request(duration=duration)


@pytest.mark.parametrize("candidates", [0, -1, MAX_CANDIDATES + 1, 2.5, "many"])
def test_bad_candidates(candidates):
    with pytest.raises(BeatLMError, match="candidates"):
        request(candidates=candidates)


@pytest.mark.parametrize("seed", [-2, MAX_SEED + 1, "1.5", "abc"])
def test_bad_seed(seed):
    with pytest.raises(BeatLMError, match="seed"):
        request(seed=seed)


def test_bad_bpm_and_key_reach_the_page_as_messages():
    with pytest.raises(BeatLMError, match="BPM"):
        request(bpm="9000")
    with pytest.raises(BeatLMError, match="key"):
        request(key="Z minor")
