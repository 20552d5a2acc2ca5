"""MuLaNModel: embeddings of any rate and length, text embeddings, the contrastive loss falls."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F


def test_audio_embedding_averages_windows(tiny_mulan):
    sr = tiny_mulan.sample_rate
    wav = torch.randn(1, 1, 4 * sr) * 0.1  # two 2 s windows
    with torch.no_grad():
        whole = tiny_mulan.embed_audio(wav, sr)
        halves = [tiny_mulan.embed_audio(wav[..., i * 2 * sr:(i + 1) * 2 * sr], sr) for i in range(2)]
    assert whole.shape == (1, tiny_mulan.dim)
    assert torch.allclose(whole, F.normalize(halves[0] + halves[1], dim=-1), atol=1e-5)
    assert torch.allclose(whole.norm(dim=-1), torch.ones(1))


def test_any_rate_channels_and_length(tiny_mulan):
    sr = tiny_mulan.sample_rate
    t = torch.arange(2 * sr) / sr
    mono = (torch.sin(2 * torch.pi * 220 * t) * 0.3)[None, None]
    stereo_48k = torch.nn.functional.interpolate(mono, scale_factor=3, mode="linear").repeat(1, 2, 1)
    with torch.no_grad():
        a = tiny_mulan.embed_audio(mono, sr)
        b = tiny_mulan.embed_audio(stereo_48k, 3 * sr)
        short = tiny_mulan.embed_audio(mono[..., :800], sr)  # 0.05 s: padded to one patch
        long = tiny_mulan.embed_audio(torch.randn(2, 1, 5 * sr) * 0.1, sr)  # 3 windows, last one overlapping
    assert F.cosine_similarity(a, b).item() > 0.98
    assert short.shape == (1, tiny_mulan.dim) and torch.isfinite(short).all()
    assert long.shape == (2, tiny_mulan.dim)


def test_text_embeddings_and_similarity(tiny_mulan):
    with torch.no_grad():
        text = tiny_mulan.embed_text(["dark trap beat", "", "x " * 500])  # empty and over-long captions
        audio = tiny_mulan.embed_audio(torch.randn(2, 1, tiny_mulan.sample_rate), tiny_mulan.sample_rate)
    assert text.shape == (3, tiny_mulan.dim) and torch.isfinite(text).all()
    assert tiny_mulan.similarity(audio, text).shape == (2, 3)
    tokens = tiny_mulan.tokens(text)
    assert tokens.shape == (3, tiny_mulan.quantizer.levels) and tokens.max() < tiny_mulan.quantizer.bins


def test_loss_falls_on_a_tiny_set(tiny_mulan):
    model = copy.deepcopy(tiny_mulan).train()
    torch.manual_seed(0)
    sr = model.sample_rate
    wav = torch.randn(4, 2 * sr) * torch.tensor([0.05, 0.1, 0.2, 0.4])[:, None]
    texts = ["quiet lo-fi beat", "soft boom bap", "loud trap beat", "very loud drill beat"]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(40):
        loss = model.loss(wav, texts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_chroma_rows_reach_the_audio_tower_and_bad_sizes_are_refused():
    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    from beatlm.utils.errors import BeatLMError
    base = ["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2"]
    cfg = train.main.get_xp(base + ["mulan.frontend.n_mels=52", "mulan.frontend.n_chroma=12"]).cfg
    model = get_mulan_model(cfg.mulan).eval()
    sr = model.sample_rate
    with torch.no_grad():
        emb = model.embed_audio(torch.randn(1, 1, 2 * sr) * 0.1, sr)
    assert model.frontend.n_bins == 64 and emb.shape == (1, model.dim) and torch.isfinite(emb).all()
    bad = train.main.get_xp(base + ["mulan.frontend.n_mels=64", "mulan.frontend.n_chroma=12"]).cfg
    with pytest.raises(BeatLMError, match="= 76 must be a multiple"):
        get_mulan_model(bad.mulan)


def test_texts_in_length_groups_give_the_latents_of_one_padded_batch(tiny_mulan):
    model = copy.deepcopy(tiny_mulan)
    texts = ["trap", "", "a dark trap beat at 140 bpm in F minor with a heavy 808, hi-hat rolls and an eerie bell",
             "lo-fi hip hop, dusty piano", "boom bap beat, 90 bpm", "drill beat with sliding 808s"] * 3
    ids = model.tokenizer(texts)
    assert ids.shape[1] > 20 and (ids != 0).sum(dim=1).min() < 5  # lengths differ a lot
    model.text_groups = 1
    whole = model.embed_text(texts)
    model.text_groups = 4
    calls = []
    handle = model.mulan.text.register_forward_pre_hook(lambda module, args, kwargs: calls.append(
        kwargs.get("x", args[0] if args else None).shape), with_kwargs=True)
    grouped = model.embed_text(texts)
    handle.remove()
    assert torch.allclose(grouped, whole, atol=1e-5)
    assert len(calls) == 4 and min(c[1] for c in calls) < ids.shape[1] == max(c[1] for c in calls)
    grouped.sum().backward()  # gradients flow through the regrouping
    assert model.mulan.text.token_emb.weight.grad is not None


def test_contrastive_loss_starts_at_the_configured_temperature():
    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    base = ["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2"]
    for extra, expected in [([], 50.0), (["mulan.init_temp=10"], 10.0)]:  # micro's default, then set
        model = get_mulan_model(train.main.get_xp(base + extra).cfg.mulan)
        assert float(model.mulan.contrast.temperatures.exp()) == pytest.approx(expected)
    from beatlm.utils.errors import BeatLMError
    with pytest.raises(BeatLMError, match="init_temp=0 must be positive"):
        get_mulan_model(train.main.get_xp(base + ["mulan.init_temp=0"]).cfg.mulan)
    for bad in (["mulan.init_temp=90"], ["mulan.max_temp=100"]):
        with pytest.raises(BeatLMError, match="max_temp=.* must lie between"):
            get_mulan_model(train.main.get_xp(base + bad).cfg.mulan)


def test_the_temperature_is_clamped_below_float32_overflow():
    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    model = get_mulan_model(train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro"]).cfg.mulan)
    latents = torch.nn.functional.normalize(torch.randn(8, model.dim), dim=-1)
    with torch.no_grad():
        model.mulan.contrast.temperatures.fill_(math.log(100.0))
    assert not torch.isfinite(model.mulan.contrast(latents, latents))  # why the clamp: exp(100) overflows
    model.clamp_temperature()
    assert float(model.mulan.contrast.temperatures.exp()) == pytest.approx(80.0)
    assert torch.isfinite(model.mulan.contrast(latents, latents))
