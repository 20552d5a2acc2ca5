"""MulanConditioner: MuLaN tokens of audio or text, per-stage tables, null condition, audiocraft plumbing."""

import copy
import typing as tp

from audiocraft.modules.conditioners import (
    AttributeDropout,
    ClassifierFreeGuidanceDropout,
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
    JointEmbedCondition,
    nullify_joint_embed,
)
import pytest
import torch

from beatlm.modules.conditioners import JointEmbedCFGDropout, MulanConditioner

DIM = 16  # output_dim of the test conditioners


@pytest.fixture(scope="module")
def mulan_and_cfg(dora_dir):
    """An untrained micro MuLaN (10 s windows) whose quantizer is fitted on random unit vectors, and its config."""
    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    cfg = train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro"]).cfg
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_mulan_model(cfg.mulan)
        model.quantizer.fit(torch.nn.functional.normalize(torch.randn(256, model.dim), dim=-1), epochs=2)
    return model.eval(), cfg


@pytest.fixture(scope="module")
def mulan(mulan_and_cfg):
    return mulan_and_cfg[0]


def make(mulan, namespace: str = "semantic", **kwargs) -> MulanConditioner:
    return MulanConditioner(output_dim=DIM, device="cpu", attribute="description", mulan=mulan,
                            namespace=namespace, **kwargs)


def clip(seed: int, seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1) -> torch.Tensor:
    """A reproducible clip [channels, T]: a few random partials with noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    freqs = 60 + 2000 * torch.rand(3, generator=g)
    wav = sum(torch.sin(2 * torch.pi * f * t) for f in freqs) * 0.2 + 0.05 * torch.randn(len(t), generator=g)
    return wav[None].repeat(channels, 1)


def batch(items: tp.Sequence[tp.Tuple[tp.Optional[torch.Tensor], tp.Optional[str]]],
          sample_rates: tp.Optional[tp.Sequence[int]] = None) -> JointEmbedCondition:
    """A batched JointEmbedCondition of (wav [C, T] or None, text or None) items, zero-padded."""
    sample_rates = list(sample_rates or [16000] * len(items))
    lengths = [0 if wav is None else wav.shape[-1] for wav, _ in items]
    wav = torch.zeros(len(items), 1, max(1, *lengths))
    for i, (w, _) in enumerate(items):
        if w is not None:
            wav[i, :, :w.shape[-1]] = w
    return JointEmbedCondition(wav=wav, text=[text for _, text in items], length=torch.tensor(lengths),
                               sample_rate=sample_rates, path=[None] * len(items), seek_time=[0.0] * len(items))


def attributes(wav: tp.Optional[torch.Tensor], text: tp.Optional[str],
               sample_rate: int = 16000) -> ConditioningAttributes:
    """One sample's attributes as a dataset gives them: joint_embed['description'] of batch 1."""
    length = 0 if wav is None else wav.shape[-1]
    wav = torch.zeros(1, 1) if wav is None else wav
    cond = JointEmbedCondition(wav=wav[None], text=[text], length=torch.tensor([length]), sample_rate=[sample_rate],
                               path=[None], seek_time=[0.0])
    return ConditioningAttributes(joint_embed={"description": cond})


def expected_tokens(mulan, wav: tp.Optional[torch.Tensor] = None, text: tp.Optional[str] = None,
                    sample_rate: int = 16000) -> torch.Tensor:
    with torch.no_grad():
        embedding = mulan.embed_audio(wav[None], sample_rate) if wav is not None else mulan.embed_text([text])
    return mulan.tokens(embedding)[0]


class Spy:
    """Counts calls of `mulan.embed_audio` / `embed_text` and the items they were given."""

    def __init__(self, mulan, monkeypatch):
        self.audio_calls: tp.List[int] = []
        self.text_calls: tp.List[tp.List[str]] = []
        embed_audio, embed_text = mulan.embed_audio, mulan.embed_text

        def audio(wav, sample_rate):
            self.audio_calls.append(wav.shape[0])
            return embed_audio(wav, sample_rate)

        def text(texts):
            self.text_calls.append(list(texts))
            return embed_text(texts)
        monkeypatch.setattr(mulan, "embed_audio", audio)
        monkeypatch.setattr(mulan, "embed_text", text)


def test_shapes_dtypes_and_range(mulan):
    cond = make(mulan).eval()
    levels, bins = mulan.quantizer.levels, mulan.quantizer.bins
    x = batch([(clip(0), "trap beat"), (clip(1), None), (None, "lo-fi boom bap")])
    tokens, empty = cond.tokens(x)
    assert tokens.shape == (3, levels) and tokens.dtype == torch.int64
    assert ((tokens >= 0) & (tokens < bins)).all()
    assert empty.dtype == torch.bool and not empty.any()
    embeds, mask = cond(x)
    assert embeds.shape == (3, levels, DIM) and embeds.dtype == torch.float32
    assert mask.shape == (3, levels) and (mask == 1).all()
    # Level l, token k -> table[l, k].
    for i in range(3):
        for level in range(levels):
            assert torch.equal(embeds[i, level], cond.table[level, tokens[i, level]])


def test_same_audio_same_tokens_whatever_the_batch(mulan):
    cond = make(mulan).eval()
    a, b = clip(3), clip(4, seconds=0.8)
    first_tokens, _ = cond.tokens(batch([(a, "x")]))
    again = cond(batch([(a, "x")]))
    assert torch.equal(cond(batch([(a, "x")]))[0], again[0])
    # The same clip at another position, padded among longer clips, mixed with text items.
    tokens, _ = cond.tokens(batch([(b, None), (None, "drill"), (a, "x"), (b, "y")]))
    assert torch.equal(tokens[2], first_tokens[0])
    assert torch.equal(tokens[2], expected_tokens(mulan, a))
    assert torch.equal(tokens[0], tokens[3]) and torch.equal(tokens[0], expected_tokens(mulan, b))


def test_audio_and_text_paths(mulan):
    cond = make(mulan).eval()
    a = clip(5)
    stereo_44k = clip(6, seconds=0.6, sample_rate=44100, channels=2)
    x = batch([(a, None), (None, "dark trap beat with 808 glides"), (a, "jazz rap"), (None, None), (None, ""),
               (stereo_44k[:1], "phonk")], sample_rates=[16000, 16000, 16000, 16000, 16000, 44100])
    tokens, empty = cond.tokens(x)
    assert torch.equal(tokens[0], expected_tokens(mulan, a))
    assert torch.equal(tokens[1], expected_tokens(mulan, text="dark trap beat with 808 glides"))
    assert torch.equal(tokens[2], expected_tokens(mulan, a))  # both: audio (text_p=0)
    assert torch.equal(tokens[5], expected_tokens(mulan, stereo_44k[:1], sample_rate=44100))
    assert empty.tolist() == [False, False, False, True, True, False]  # None and "" are no text
    embeds, mask = cond(x)
    assert (embeds[3:5] == 0).all() and (mask[3:5] == 0).all()
    assert (mask[[0, 1, 2, 5]] == 1).all() and embeds[[0, 1, 2, 5]].abs().sum(-1).gt(0).all()


def test_mulan_calls_are_batched(mulan, monkeypatch):
    spy = Spy(mulan, monkeypatch)
    cond = make(mulan).eval()
    cond(batch([(clip(i), None) for i in range(6)] + [(None, f"beat {i}") for i in range(3)]))
    assert spy.audio_calls == [6] and spy.text_calls == [["beat 0", "beat 1", "beat 2"]]
    spy.audio_calls.clear()
    cond(batch([(clip(0, 0.5), None), (clip(1, 0.3), None), (clip(2, 0.5), None)]))
    assert sorted(spy.audio_calls) == [1, 2]  # one call per length
    spy.audio_calls.clear()
    spy.text_calls.clear()
    cond(batch([(None, None), (None, None)]))
    assert spy.audio_calls == [] and spy.text_calls == []  # nothing to embed


def test_text_p_one_uses_text_when_training(mulan, monkeypatch):
    spy = Spy(mulan, monkeypatch)
    cond = make(mulan, text_p=1.0).train()
    x = batch([(clip(7), "boom bap with vinyl crackle"), (clip(8), None), (None, "cloud rap")])
    tokens, _ = cond.tokens(x)
    assert spy.text_calls == [["boom bap with vinyl crackle", "cloud rap"]]
    assert spy.audio_calls == [1]  # only the item without text
    assert torch.equal(tokens[0], expected_tokens(mulan, text="boom bap with vinyl crackle"))
    spy.audio_calls.clear()
    spy.text_calls.clear()
    cond.eval()(x)  # text_p is a training-time choice
    assert spy.audio_calls == [2] and spy.text_calls == [["cloud rap"]]
    assert not mulan.training  # training the conditioner never trains MuLaN


def test_text_p_fraction(mulan, monkeypatch):
    spy = Spy(mulan, monkeypatch)
    cond = make(mulan, text_p=0.3).train()
    a = clip(9, seconds=0.1)
    torch.manual_seed(0)
    cond.tokens(batch([(a, f"beat {i}") for i in range(300)]))
    used_text = sum(len(call) for call in spy.text_calls)
    assert 0.3 - 0.08 < used_text / 300 < 0.3 + 0.08, used_text


def test_namespaces_have_own_tables_and_no_mulan_in_state(mulan):
    semantic, coarse = make(mulan, "semantic"), make(mulan, "coarse")
    assert list(semantic.state_dict()) == ["cond_embeddings.semantic"]
    assert list(coarse.state_dict()) == ["cond_embeddings.coarse"]
    assert not torch.equal(semantic.table, coarse.table)
    levels, bins = mulan.quantizer.levels, mulan.quantizer.bins
    assert semantic.table.shape == (levels, bins, DIM)
    assert abs(semantic.table.std().item() - 0.02) < 0.004  # N(0, 0.02)
    # Only the table is a parameter: no MuLaN weights, no unused output_proj.
    assert [name for name, _ in semantic.named_parameters()] == ["cond_embeddings.semantic"]
    assert not any("mulan" in name for name, _ in semantic.named_modules())
    provider = ConditioningProvider({"description": semantic})
    assert list(provider.state_dict()) == ["conditioners.description.cond_embeddings.semantic"]
    # A stage's checkpoint does not load into another stage.
    with pytest.raises(RuntimeError, match="cond_embeddings"):
        coarse.load_state_dict(semantic.state_dict())
    coarse_copy = make(mulan, "coarse")
    coarse_copy.load_state_dict(coarse.state_dict())
    assert torch.equal(coarse_copy.table, coarse.table)


def test_gradients_reach_tables_not_mulan(mulan):
    cond = make(mulan).train()
    x = batch([(clip(10), None), (None, "g-funk"), (None, None)])
    tokens, _ = cond.tokens(x)
    embeds, _ = cond(x)
    (embeds * torch.randn_like(embeds)).sum().backward()
    grad = cond.table.grad
    assert grad is not None
    used = torch.zeros(grad.shape[:2], dtype=torch.bool)
    for level in range(tokens.shape[1]):
        used[level, tokens[:2, level]] = True
    assert grad[used].abs().sum(-1).gt(0).all() and (grad[~used] == 0).all()  # the empty item adds nothing
    assert all(not p.requires_grad and p.grad is None for p in mulan.parameters())
    assert all(p.grad is not None for p in cond.parameters())  # no parameter left without a gradient (DDP)


def test_cfg_null_condition_through_provider(mulan, monkeypatch):
    provider = ConditioningProvider({"description": make(mulan)}, device="cpu").train()
    samples = [attributes(clip(i), f"beat {i}") for i in range(4)]
    spy = Spy(mulan, monkeypatch)
    dropped = JointEmbedCFGDropout(p=1.0)(samples)
    embeds, mask = provider(provider.tokenize(dropped))["description"]
    assert embeds.shape == (4, mulan.quantizer.levels, DIM)
    assert (embeds == 0).all() and (mask == 0).all()
    assert spy.audio_calls == [] and spy.text_calls == []
    # The samples given are left as they were; the same samples undropped condition normally.
    embeds, mask = provider(provider.tokenize(samples))["description"]
    assert (mask == 1).all() and embeds.abs().sum() > 0
    # audiocraft's AttributeDropout nullifies joint_embed attributes through the same path.
    dropped = AttributeDropout(p={"joint_embed": {"description": 1.0}})(samples)
    assert (provider(provider.tokenize(dropped))["description"][1] == 0).all()
    # nullify_joint_embed on a whole batch leaves a single length of 0 for B items.
    embeds, mask = provider.conditioners["description"](nullify_joint_embed(batch([(clip(0), "a"), (clip(1), "b")])))
    assert embeds.shape == (2, mulan.quantizer.levels, DIM) and (embeds == 0).all() and (mask == 0).all()


def test_audiocraft_cfg_dropout_keeps_joint_embed(mulan):
    """audiocraft 1.3.0's ClassifierFreeGuidanceDropout drops only wav and text attributes.

    This is why `JointEmbedCFGDropout` exists. If a bend makes audiocraft's class drop `joint_embed`
    too, this test fails on purpose: update it then.
    """
    samples = [attributes(clip(0), "beat")]
    dropped = ClassifierFreeGuidanceDropout(p=1.0)(samples)
    assert dropped[0].joint_embed["description"].text == ["beat"]
    assert int(dropped[0].joint_embed["description"].length[0]) > 0


def test_cfg_dropout_rate(mulan, monkeypatch):
    # Only which items arrive empty matters here: a stub text tower keeps 300 batches fast.
    monkeypatch.setattr(mulan, "embed_text", lambda texts: torch.nn.functional.normalize(
        torch.ones(len(texts), mulan.dim), dim=-1))
    provider = ConditioningProvider({"description": make(mulan)}, device="cpu").train()
    dropout = JointEmbedCFGDropout(p=0.3, seed=1234)
    empty, total = 0, 0
    for i in range(300):
        samples = [attributes(None, f"beat {i}"), attributes(None, f"other beat {i}")]
        _, mask = provider(provider.tokenize(dropout(samples)))["description"]
        empty += int((mask[:, 0] == 0).sum())
        total += mask.shape[0]
    assert 0.3 - 0.08 < empty / total < 0.3 + 0.08, empty / total
    dropout.eval()
    assert dropout([attributes(None, "x")])[0].joint_embed["description"].text == ["x"]  # no dropout in eval


def test_provider_collates_and_fuser_prepends(mulan):
    cond = make(mulan).eval()
    provider = ConditioningProvider({"description": cond}, device="cpu").eval()
    a, b = clip(11, 0.5), clip(12, 0.9)
    samples = [attributes(a, "x"), attributes(None, "lo-fi"), attributes(b, None), attributes(None, None)]
    embeds, mask = provider(provider.tokenize(samples))["description"]
    tokens, _ = cond.tokens(batch([(a, "x"), (None, "lo-fi"), (b, None), (None, None)]))
    assert torch.equal(tokens[0], expected_tokens(mulan, a)) and torch.equal(tokens[2], expected_tokens(mulan, b))
    assert torch.equal(embeds, cond.embed_tokens(tokens, torch.tensor([False, False, False, True]))[0])
    assert mask[:, 0].tolist() == [1, 1, 1, 0]
    fuser = ConditionFuser({"prepend": ["description"], "cross": [], "sum": [], "input_interpolate": []})
    x = torch.randn(4, 7, DIM)
    fused, cross = fuser(x, {"description": (embeds, mask)})
    levels = mulan.quantizer.levels
    assert fused.shape == (4, levels + 7, DIM) and cross is None
    assert torch.equal(fused[:, :levels], embeds) and torch.equal(fused[:, levels:], x)


def test_embed_tokens_without_mulan(mulan, monkeypatch):
    cond = make(mulan).eval()
    x = batch([(clip(13), None), (None, "drill"), (None, None)])
    tokens, empty = cond.tokens(x)
    expected = cond(x)

    def fail(*args, **kwargs):
        raise AssertionError("MuLaN must not run")
    monkeypatch.setattr(mulan, "embed_audio", fail)
    monkeypatch.setattr(mulan, "embed_text", fail)
    cached = tokens.clone()
    cached[2] = 10 ** 6  # a cache may store anything for empty items
    embeds, mask = cond.embed_tokens(cached, empty)
    assert torch.equal(embeds, expected[0]) and torch.equal(mask, expected[1])
    assert (cond.embed_tokens(tokens[:2])[1] == 1).all()  # empty=None: no item is empty
    with pytest.raises(ValueError, match="MuLaN tokens"):
        cond.embed_tokens(tokens[:, :-1], empty)


def test_to_moves_mulan_device_keeps_it_float32(mulan):
    cond = make(mulan).eval()
    x = batch([(clip(14), None), (None, "trap")])
    embeds32, _ = cond(x)
    cond.to(torch.float64)
    assert cond.table.dtype == torch.float64
    assert next(mulan.parameters()).dtype == torch.float32  # MuLaN follows the device, never the dtype
    embeds64, _ = cond(x)
    assert embeds64.dtype == torch.float64 and torch.equal(embeds64, embeds32.double())
    # A device move reaches MuLaN, also through a parent module (the 'meta' device stands in for a GPU).
    own = make(copy.deepcopy(mulan))
    provider = ConditioningProvider({"description": own})
    provider.to("meta")
    assert own.table.device.type == "meta" and own.device == "meta"
    assert {p.device.type for p in own.mulan.parameters()} == {"meta"}
    assert {b.device.type for b in own.mulan.buffers()} == {"meta"}
    assert next(mulan.parameters()).device.type == "cpu"


def test_loads_mulan_from_a_file(mulan_and_cfg, tmp_path):
    from beatlm.utils.export import _write_export
    model, cfg = mulan_and_cfg
    path = _write_export(tmp_path / "mulan.th", {"mulan": model.mulan.state_dict(),
                                                 "quantizer": model.quantizer.state_dict()},
                         cfg, {"kind": "mulan"}, overwrite=False)
    cond = make(str(path)).eval()
    assert cond.mulan_path == str(path) and cond.mulan is not model
    assert not cond.mulan.training and not any(p.requires_grad for p in cond.mulan.parameters())
    a = clip(15)
    assert torch.equal(cond.tokens(batch([(a, None)]))[0][0], expected_tokens(model, a))
    assert list(cond.state_dict()) == ["cond_embeddings.semantic"]


def test_mulan_stays_frozen(mulan):
    own = copy.deepcopy(mulan).train().requires_grad_(True)
    cond = make(own).train()
    assert not own.training and not any(p.requires_grad for p in own.parameters())
    x = batch([(clip(16), None), (None, "phonk with cowbells")])
    first, _ = cond.tokens(x)
    own.train()  # even if someone turns MuLaN's SpecAugment and patch dropout back on
    assert torch.equal(cond.tokens(x)[0], first) and not own.training


def test_refuses_unfitted_quantizer_and_bad_text_p(mulan):
    unfitted = copy.deepcopy(mulan)
    unfitted.quantizer.fitted.fill_(False)
    with pytest.raises(ValueError, match="fitted"):
        make(unfitted)
    with pytest.raises(ValueError, match="text_p"):
        make(mulan, text_p=1.5)
