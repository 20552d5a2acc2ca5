"""The benchmark's baseline generators: a MusicGen-style LM and audiolm-pytorch's stages, at tiny sizes."""

import copy
import typing as tp

import pytest
import torch

from beatlm.benchmarks import baselines

SECONDS = 0.2  # 5 semantic tokens at 25 Hz, 10 codec frames at 50 Hz


class StandInCodec:
    """A codec with 4 codebooks of 64 codes at 50 Hz whose decoder returns silence."""

    num_codebooks, cardinality, frame_rate, sample_rate, channels = 4, 64, 50, 32000, 1

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.zeros(codes.shape[0], 1, codes.shape[-1] * 640)


@pytest.fixture
def offline_hub(monkeypatch, tmp_path) -> None:
    """No network and an empty cache for the Hugging Face hub (read at call time by transformers)."""
    from huggingface_hub import constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))


def _tiny_stages() -> tp.Dict[str, torch.nn.Module]:
    return baselines.audiolm_stages(dim=32, depth=1, heads=2, semantic_card=16, codec_card=32, coarse_q=2,
                                    fine_q=2, cond_dim=24)


def test_musicgen_style_lm_is_sized_and_generates(tiny_mulan):
    tiny_mulan = copy.deepcopy(tiny_mulan)  # the conditioner freezes the MuLaN it is given: keep the fixture intact
    torch.manual_seed(0)
    codec, target = StandInCodec(), 600_000
    lm = baselines.musicgen_style_lm(codec, tiny_mulan, target)
    assert abs(baselines.count_parameters(lm) - target) <= 0.15 * target
    assert not lm.training and lm.n_q == 4 and lm.card == 64
    out = baselines.musicgen_generate(lm, codec, tiny_mulan, ["a drum loop", "a bass line"], SECONDS)
    assert out["codes"].shape == (2, 4, 10)
    assert out["wav"].shape == (2, 1, 10 * 640)
    assert set(out["timings"]) == {"lm", "decode"}


def test_audiolm_stages_generate_offline(offline_hub):
    torch.manual_seed(0)
    out = baselines.audiolm_generate(_tiny_stages(), batch=2, seconds=SECONDS)
    assert out["semantic"].shape == (2, 5)
    assert out["coarse"].shape == (2, 10, 2)
    assert out["fine"].shape == (2, 10, 2)
    assert ((out["semantic"] >= 0) & (out["semantic"] < 16)).all()  # EOS unreachable: full length, no padding
    assert ((out["fine"] >= 0) & (out["fine"] < 32)).all()
    assert set(out["timings"]) == {"semantic", "coarse", "fine"}


def test_audiolm_accepts_given_conditioning(offline_hub):
    out = baselines.audiolm_generate(_tiny_stages(), batch=1, seconds=SECONDS, cond=torch.randn(1, 4, 24))
    assert out["fine"].shape == (1, 10, 2)


def test_offline_t5_bend_is_needed_and_restored(offline_hub):
    from audiolm_pytorch import audiolm_pytorch, t5
    # Fails when audiolm-pytorch stops asking the hub for T5 when given `cond_dim`: then drop the bend.
    with pytest.raises(OSError):
        audiolm_pytorch.SemanticTransformer(dim=32, depth=1, num_semantic_tokens=16, has_condition=True, cond_dim=24)
    with baselines.offline_t5_lookup():
        audiolm_pytorch.SemanticTransformer(dim=32, depth=1, num_semantic_tokens=16, has_condition=True, cond_dim=24)
    assert audiolm_pytorch.get_encoded_dim is t5.get_encoded_dim
