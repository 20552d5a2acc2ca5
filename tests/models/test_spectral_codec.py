"""The spectral codec as a CompressionModel: built from the config tree, Encodec's shapes and meanings."""

import pytest
import torch

from beatlm.utils.errors import BeatLMError


@pytest.fixture(scope="module")
def spectral_cfg():
    from beatlm import train
    return train.main.get_xp(["solver=compression/beats", "model_scale=micro", "model=encodec/spectral"]).cfg


def test_encode_decode_shapes_cardinality_and_frame_rate(spectral_cfg):
    from beatlm.models.builders import get_compression_model
    from beatlm.models.spectral_codec import SpectralCodec
    torch.manual_seed(0)
    codec = get_compression_model(spectral_cfg).eval()
    assert isinstance(codec, SpectralCodec)
    assert codec.frame_rate == 50 and codec.sample_rate == 32000 and codec.channels == 1
    assert codec.num_codebooks == spectral_cfg.rvq.n_q and codec.cardinality == spectral_cfg.rvq.bins
    wav = torch.randn(2, 1, 48000) * 0.1  # 1.5 s
    with torch.no_grad():
        evaluated = codec(wav)  # first: an untrained RVQ runs its k-means initialisation in forward only
        codes, scale = codec.encode(wav)
        decoded = codec.decode(codes, scale)
    assert codes.shape == (2, codec.num_codebooks, 75) and scale is None
    assert codes.dtype == torch.int64 and 0 <= codes.min() and codes.max() < codec.cardinality
    assert decoded.shape == wav.shape and torch.isfinite(decoded).all()
    # outside training, forward is the codec itself: encode, then decode with Griffin-Lim phase
    assert torch.allclose(evaluated.x, decoded, atol=1e-5)


def test_training_forward_gives_the_magnitudes_the_input_phase_and_a_magnitude_loss(spectral_cfg):
    from beatlm.models.builders import get_compression_model
    torch.manual_seed(0)
    codec = get_compression_model(spectral_cfg).train()
    wav = torch.randn(1, 1, 32000) * 0.1
    state = {k: v.clone() for k, v in codec.state_dict().items()}
    torch.manual_seed(1)  # the RVQ's k-means initialisation draws from it
    out = codec(wav)
    assert out.x.shape == wav.shape and out.x.requires_grad
    codec.load_state_dict(state)  # the forward above initialised and moved the RVQ codebooks: replay it
    torch.manual_seed(1)
    spec = codec.encoder.frames(wav)
    latent = codec.quantizer(codec.encoder.encode_spec(spec), codec.frame_rate).x
    log_mag = codec.decoder.log_magnitude(latent)
    expected = codec.encoder.frames.inverse(torch.polar(torch.exp(log_mag), spec.angle()), wav.shape[-1])
    assert torch.allclose(out.x, expected, atol=1e-4)
    # the magnitude loss reaches the penalty the solver backpropagates, weighted by spectral.magnitude_weight
    assert codec.magnitude_weight == spectral_cfg.spectral.magnitude_weight > 0
    assert out.metrics["magnitude_l1"] > 0
    codec.magnitude_weight = 0.0
    codec.load_state_dict(state)
    torch.manual_seed(1)
    assert out.penalty > codec(wav).penalty + 0.5 * spectral_cfg.spectral.magnitude_weight * out.metrics["magnitude_l1"]


def test_a_hop_that_does_not_divide_the_rate_is_refused(spectral_cfg):
    from beatlm.models.builders import get_compression_model
    cfg = spectral_cfg.copy()
    cfg.spectral.hop_length = 700
    with pytest.raises(BeatLMError, match="hop_length=700"):
        get_compression_model(cfg)
