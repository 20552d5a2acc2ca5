"""SemanticTokenizer: deterministic k-means, 25 tokens per second, safe one-file round trip, signatures."""

import copy

import pytest
import torch

from beatlm.modules.semantic_features import LibrosaFeatures, MulanFrameFeatures
from beatlm.modules.semantic_tokenizer import SemanticTokenizer, collect_features
from beatlm.utils.errors import BeatLMError

SR = 16000


def _clips(count: int = 4, seconds: float = 2.0):
    gen = torch.Generator().manual_seed(1)
    clips = []
    for i in range(count):  # noise bursts and tones: features with structure
        t = torch.arange(int(seconds * SR)) / SR
        wav = 0.3 * torch.sin(2 * torch.pi * (110 * (i + 1)) * t) * (t * 4 % 1 < 0.5)
        clips.append(((wav + 0.05 * torch.randn(t.shape, generator=gen))[None], SR))
    return clips


@pytest.fixture(scope="module")
def source():
    return LibrosaFeatures(sample_rate=SR, n_fft=1024)


@pytest.fixture(scope="module")
def features(source):
    return collect_features(source, _clips(), max_frames=150)


def test_collect_thins_evenly(source, features):
    assert features.shape == (150, source.dim)
    assert collect_features(source, _clips(2), max_frames=None).shape == (100, source.dim)


def test_fit_is_deterministic_for_a_seed(source, features):
    a = SemanticTokenizer(source).fit(features, clusters=16, seed=3)
    b = SemanticTokenizer(source).fit(features, clusters=16, seed=3)
    c = SemanticTokenizer(source).fit(features, clusters=16, seed=4)
    assert torch.equal(a.centroids, b.centroids) and a.signature() == b.signature()
    assert a.signature() != c.signature()
    assert a.cardinality == 16 and a.frame_rate == 25.0


def test_encode_shape_range_and_batch_independence(source, features):
    tok = SemanticTokenizer(source).fit(features, clusters=16, seed=0)
    wav = torch.stack([c[0] for c in _clips(2, seconds=3.0)])  # [2, 1, T]
    tokens = tok.encode(wav, SR)
    assert tokens.dtype == torch.long and tokens.shape == (2, 75)
    assert tokens.min() >= 0 and tokens.max() < 16 and len(tokens.unique()) > 1
    assert torch.equal(tok.encode(wav[1:], SR)[0], tokens[1])
    assert tok.encode(torch.randn(1, 2, 10 * 32000) * 0.1, 32000).shape == (1, 250)


def test_save_load_round_trip(source, features, tmp_path):
    tok = SemanticTokenizer(source).fit(features, clusters=16, seed=0)
    path = tok.save(tmp_path / "tok.th")
    loaded = SemanticTokenizer.load(path)
    wav = _clips(1)[0][0][None]
    assert torch.equal(loaded.encode(wav, SR), tok.encode(wav, SR))
    assert loaded.signature() == tok.signature() and loaded.settings() == tok.settings()
    with pytest.raises(BeatLMError, match="already exists"):
        tok.save(path)


def test_signature_follows_centroids_and_settings(source, features):
    tok = SemanticTokenizer(source).fit(features, clusters=16, seed=0)
    before = tok.signature()
    tok.centroids[0, 0] += 1e-3
    assert tok.signature() != before
    other = SemanticTokenizer(LibrosaFeatures(sample_rate=SR, n_fft=512))
    other.load_state_dict(tok.state_dict())
    assert other.signature() != tok.signature()


def test_bad_input(source, features, tmp_path):
    tok = SemanticTokenizer(source)
    with pytest.raises(BeatLMError, match="not fitted"):
        tok.encode(torch.zeros(1, 1, SR), SR)
    with pytest.raises(BeatLMError, match="unfitted"):
        tok.save(tmp_path / "x.th")
    with pytest.raises(BeatLMError, match=r"expected features \[N, 97\]"):
        tok.fit(torch.zeros(100, 3), clusters=4)
    with pytest.raises(BeatLMError, match="as many frames as clusters"):
        tok.fit(features[:10], clusters=16)
    other = tmp_path / "other.th"
    torch.save({"model": torch.zeros(2)}, other)
    with pytest.raises(BeatLMError, match="not a semantic tokenizer"):
        SemanticTokenizer.load(other)
    with pytest.raises(BeatLMError, match="does not exist"):
        SemanticTokenizer.load(tmp_path / "missing.th")


def test_mulan_source_needs_its_mulan_on_load(tiny_mulan, tmp_path):
    source = MulanFrameFeatures(tiny_mulan)
    sr = tiny_mulan.sample_rate
    feats = collect_features(source, [(0.1 * torch.randn(1, 2 * sr), sr) for _ in range(2)])
    tok = SemanticTokenizer(source).fit(feats, clusters=8, seed=0)
    path = tok.save(tmp_path / "mulan_tok.th")
    with pytest.raises(BeatLMError, match="needs a MuLaN"):
        SemanticTokenizer.load(path)
    loaded = SemanticTokenizer.load(path, mulan=tiny_mulan)
    wav = 0.1 * torch.randn(1, 1, 2 * sr)
    assert torch.equal(loaded.encode(wav, sr), tok.encode(wav, sr))
    changed = copy.deepcopy(tiny_mulan)
    with torch.no_grad():
        next(changed.mulan.audio.parameters()).add_(1.0)
    with pytest.raises(BeatLMError, match="not the one the tokenizer was fitted on"):
        SemanticTokenizer.load(path, mulan=changed)
