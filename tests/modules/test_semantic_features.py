"""Semantic frame features: 25 per second whatever the input, for each source; the config factory."""

import math

from omegaconf import OmegaConf
import pytest
import torch

from beatlm.modules.semantic_features import (
    LibrosaFeatures,
    MulanFrameFeatures,
    PretrainedEncoderFeatures,
    get_feature_source,
    interpolate_frames,
    num_frames,
    source_from_settings,
)
from beatlm.utils.errors import BeatLMError


def _noise(seconds: float, sample_rate: int, channels: int = 1, batch: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(batch, channels, int(seconds * sample_rate), generator=gen)


def test_frame_count_is_floor_of_seconds_times_rate():
    assert num_frames(10 * 32000, 32000, 25) == 250
    assert num_frames(int(2.99 * 16000), 16000, 25) == 74
    assert num_frames(1279, 32000, 25) == 0


def test_interpolation_hits_source_points_and_holds_the_ends():
    values = torch.tensor([[[0.0], [1.0], [2.0]]])
    times = torch.tensor([0.02, 0.06, 0.10])  # centres of 25 fps frames 0..2
    out = interpolate_frames(values, times, 4, 25.0)
    assert torch.allclose(out[0, :, 0], torch.tensor([0.0, 1.0, 2.0, 2.0]), atol=1e-6)


def test_librosa_shape_any_rate_and_channels():
    source = LibrosaFeatures()
    assert source.dim == 64 + 20 + 12 + 1
    ten = source(_noise(10.0, 32000, channels=2, batch=2), 32000)
    assert ten.shape == (2, 250, source.dim) and torch.isfinite(ten).all()
    other = source(_noise(3.0, 44100), 44100)
    assert other.shape == (1, 75, source.dim)
    assert source.settings()["source"] == "librosa"
    assert source_from_settings(source.settings()).settings() == source.settings()


def test_librosa_rejects_bad_settings_and_input():
    with pytest.raises(BeatLMError, match="whole multiple"):
        LibrosaFeatures(frame_rate=30.0, sample_rate=32000)
    with pytest.raises(BeatLMError, match="shorter than one frame"):
        LibrosaFeatures()(torch.zeros(1, 1, 100), 32000)


def test_mulan_frames(tiny_mulan):
    source = MulanFrameFeatures(tiny_mulan)
    sr = tiny_mulan.sample_rate
    feats = source(_noise(4.0, sr), sr)  # two 2 s windows
    assert feats.shape == (1, 100, tiny_mulan.mulan.audio.dim) and torch.isfinite(feats).all()
    first = MulanFrameFeatures(tiny_mulan, layer=0)(_noise(4.0, sr), sr)
    assert not torch.allclose(first, feats)
    depth = len(tiny_mulan.mulan.audio.transformer.layers)
    assert torch.equal(MulanFrameFeatures(tiny_mulan, layer=-depth)(_noise(4.0, sr), sr), first)
    assert torch.equal(MulanFrameFeatures(tiny_mulan, layer=depth - 1)(_noise(4.0, sr), sr), feats)
    shifted = MulanFrameFeatures(tiny_mulan, shifts=4)(_noise(4.0, sr), sr)
    assert shifted.shape == feats.shape and not torch.allclose(shifted, feats)
    changes = [(f[1:] - f[:-1]).abs().sum(-1).gt(1e-6).sum() for f in (feats[0], shifted[0])]
    assert changes[1] >= changes[0]  # finer in time
    assert source.settings()["model_signature"] == MulanFrameFeatures(tiny_mulan).settings()["model_signature"]
    with pytest.raises(BeatLMError, match="needs a MuLaN"):
        MulanFrameFeatures(None)
    with pytest.raises(BeatLMError, match="out of range"):
        MulanFrameFeatures(tiny_mulan, layer=99)
    with pytest.raises(BeatLMError, match="shifts"):
        MulanFrameFeatures(tiny_mulan, shifts=0)


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory):
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor
    path = tmp_path_factory.mktemp("hubert")
    torch.manual_seed(0)
    config = HubertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                          conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    HubertModel(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(path)
    return path


def test_pretrained_encoder_from_local_folder(tiny_hubert):
    source = PretrainedEncoderFeatures(tiny_hubert, layer=1)
    feats = source(_noise(2.0, 32000, channels=2), 32000)
    assert feats.shape == (1, 50, 16) and torch.isfinite(feats).all()
    rebuilt = source_from_settings(source.settings(), location=str(tiny_hubert))
    assert torch.equal(rebuilt(_noise(2.0, 32000), 32000), source(_noise(2.0, 32000), 32000))
    with pytest.raises(BeatLMError, match="local Hugging Face model folder"):
        PretrainedEncoderFeatures(tiny_hubert / "missing")
    with pytest.raises(BeatLMError, match="out of range"):
        PretrainedEncoderFeatures(tiny_hubert, layer=5)


def test_factory_from_config(tiny_mulan):
    cfg = OmegaConf.create({"source": "librosa", "frame_rate": 50.0, "librosa": {"sample_rate": 16000, "n_mels": 32}})
    source = get_feature_source(cfg)
    assert isinstance(source, LibrosaFeatures) and source.frame_rate == 50.0 and source.dim == 32 + 20 + 12 + 1
    assert source(_noise(1.0, 16000), 16000).shape[1] == 50
    mulan = get_feature_source({"source": "mulan", "frame_rate": 25.0, "mulan": {"layer": -1}}, mulan=tiny_mulan)
    assert isinstance(mulan, MulanFrameFeatures)
    with pytest.raises(BeatLMError, match="needs a MuLaN"):
        get_feature_source({"source": "mulan", "mulan": {"path": "???"}})
    with pytest.raises(BeatLMError, match="unknown semantic feature source"):
        get_feature_source({"source": "wav2vec"})
    assert math.isclose(source.hop, 16000 / 50)
