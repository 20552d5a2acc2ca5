"""The MusicLM API on a tiny bundle: shapes, seeds, windows, continuation, re-ranking, bad input."""

import pytest
import torch

from beatlm.utils.errors import BeatLMError


def test_generate_shape_and_info(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=1.5)
    wav = model.generate(["boom bap beat, 90 bpm", "dark trap beat"])
    assert wav.shape == (2, model.audio_channels, int(1.5 * model.sample_rate))
    assert torch.isfinite(wav).all() and wav.abs().max() > 0
    info = model.last_generation
    assert set(info.timings) == {"semantic", "coarse", "fine", "decode", "rerank"}
    assert len(info.scores) == 2 and all(len(s) == 1 and -1 <= s[0] <= 1 for s in info.scores)


def test_same_seed_same_audio(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=1.0)
    outs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        outs.append(model.generate(["lo-fi beat"], return_tokens=True)[1])
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])


def test_longer_than_a_window_by_continuation(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=2.6, extend_stride=0.5)  # windows of 1 s, 0.5 s of context
    assert model._window_steps("coarse") == (50, 24, 2)  # context snapped to whole semantic frames
    wav, codes = model.generate(["drill beat"], return_tokens=True)
    assert wav.shape[-1] == int(2.6 * model.sample_rate)
    assert codes.shape == (1, 4, 130) and (codes >= 0).all() and (codes < 1024).all()


def test_tiny_stride_never_overflows_a_window(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=1.3, extend_stride=0.01)  # 1 s windows advancing half a frame
    window, context, step = model._window_steps("coarse")
    assert context % step == 0 and context + step - 1 < window
    assert model.generate(["boom bap"]).shape[-1] == int(1.3 * model.sample_rate)


def test_continuation_keeps_the_prompt(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=2.0, num_candidates=2)
    torch.manual_seed(0)
    prompt = 0.3 * torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 220)[None]  # 1 s at 16 kHz
    wav, codes = model.generate_continuation(prompt, 16000, ["jazz rap"], return_tokens=True)
    from audiocraft.data.audio_utils import convert_audio
    expected = model.codec.encode(convert_audio(prompt[None], 16000, model.sample_rate, 1))[0][..., :50]
    assert wav.shape[-1] == 2 * model.sample_rate
    assert torch.equal(codes[..., :50], expected)
    silent = model.generate_continuation(prompt, 16000)  # no text: MuLaN of the prompt audio, no scores
    assert silent.shape == wav.shape and model.last_generation.scores == [[]]


def test_rerank_keeps_the_best_candidate(tiny_musiclm, monkeypatch):
    model = tiny_musiclm
    model.set_generation_params(duration=0.5, num_candidates=3)
    # Candidate j's "MuLaN audio embedding" is the text embedding scaled by [0.1, 0.9, 0.5][j] plus noise
    # orthogonal-ish to it: candidate 1 must win, and its own codes must be returned.
    text = torch.nn.functional.normalize(torch.randn(1, model.mulan.dim), dim=-1)
    weights = torch.tensor([0.1, 0.9, 0.5])
    seen = {}

    def embed_audio(wav, sample_rate):
        seen["wav"] = wav
        rest = torch.nn.functional.normalize(torch.randn(3, model.mulan.dim), dim=-1)
        return torch.nn.functional.normalize(weights[:, None] * text + (1 - weights[:, None]) * rest * 0.1, dim=-1)

    monkeypatch.setattr(model.mulan, "embed_audio", embed_audio)
    monkeypatch.setattr(model.mulan, "embed_text", lambda texts: text)
    wav = model.generate(["phonk beat"])
    assert model.last_generation.chosen == [1]
    scores = model.last_generation.scores[0]
    assert len(scores) == 3 and scores[1] == max(scores)
    assert torch.equal(wav[0], seen["wav"][1])


def test_unconditional(tiny_musiclm):
    model = tiny_musiclm
    model.set_generation_params(duration=0.5, num_candidates=2)
    wav = model.generate_unconditional(2)
    assert wav.shape[0] == 2 and model.last_generation.scores == [[], []]


LANGUAGES = ["808 🔥🔥 ビート, 140 bpm", "беат в стиле бум-бэп", "黑暗的陷阱节拍，每分钟140拍",
             "إيقاع تراب مظلم، ١٤٠ نبضة", "🎹🥁🔥", "  x  ", "e\u0301te\u0301 lo-fi \u202etrap"]


@pytest.mark.parametrize("prompt", LANGUAGES)
def test_any_language_or_emoji(tiny_musiclm, prompt):
    model = tiny_musiclm
    model.set_generation_params(duration=0.5)
    assert model.generate([prompt]).shape[-1] == int(0.5 * model.sample_rate)


def test_pretrained_text_tower_reads_any_language(tiny_musiclm, monkeypatch):
    """MuLaN with the frozen MiniLM text tower: the prompt check and re-ranking take any language or emoji."""
    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    cfg = train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2",
                             "mulan.text.tower=pretrained"]).cfg
    mulan = get_mulan_model(cfg.mulan).eval()
    monkeypatch.setattr(tiny_musiclm, "mulan", mulan)  # what the prompt check and re-ranking use
    tiny_musiclm.check_prompts(LANGUAGES)
    wav = torch.randn(len(LANGUAGES) * 2, 1, tiny_musiclm.sample_rate) * 0.1
    scores, chosen = tiny_musiclm._rerank(wav, LANGUAGES, 2)
    assert len(scores) == len(LANGUAGES) and all(len(row) == 2 for row in scores) and len(chosen) == len(LANGUAGES)
    with pytest.raises(BeatLMError, match="tokens long"):
        tiny_musiclm.check_prompts(["boom bap " * 200])
    with pytest.raises(BeatLMError, match="empty"):
        tiny_musiclm.check_prompts(["\u200b"])


@pytest.mark.parametrize("params,match", [({"duration": 0}, "duration"), ({"duration": 1e4}, "duration"),
                                          ({"duration": 0.3}, "duration"), ({"duration": float("nan")}, "duration"),
                                          ({"temperature": (1.0, 0.0, 1.0)}, "temperature"),
                                          ({"temperature": float("inf")}, "temperature"),
                                          ({"cfg_coef": float("nan")}, "cfg_coef"),
                                          ({"num_candidates": 0}, "num_candidates"),
                                          ({"extend_stride": 5.0}, "extend_stride")])
def test_bad_params(tiny_musiclm, params, match):
    with pytest.raises(BeatLMError, match=match):
        tiny_musiclm.set_generation_params(**params)


def test_bad_prompts(tiny_musiclm):
    with pytest.raises(BeatLMError, match="empty"):
        tiny_musiclm.generate(["trap", " "])
    with pytest.raises(BeatLMError, match="prompt 2 is empty"):
        tiny_musiclm.generate(["trap", "\u200b\u2060\x00\n"])  # invisible and control characters only
    with pytest.raises(BeatLMError, match="tokens long"):
        tiny_musiclm.generate(["boom bap " * 400])


@pytest.mark.parametrize("prompt,rate,match", [
    (torch.zeros(1, 1, 0), 16000, "expected prompt audio"), (torch.zeros(4), 16000, "expected prompt audio"),
    (torch.zeros(1, 16000), 0, "prompt_sample_rate"), (torch.zeros(1, 16000), 16000.5, "prompt_sample_rate"),
    (torch.full((1, 16000), float("nan")), 16000, "NaN"), (torch.zeros(1, 48000), 16000, "shorter than"),
])
def test_bad_continuation_prompts(tiny_musiclm, prompt, rate, match):
    tiny_musiclm.set_generation_params(duration=2.0)
    with pytest.raises(BeatLMError, match=match):
        tiny_musiclm.generate_continuation(prompt, rate, ["trap"])
