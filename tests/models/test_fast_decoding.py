"""The fast sampling loop gives audiocraft's `LMModel.generate` results (same tokens for the same seed)."""

import pytest
import torch

from beatlm.models import fast_decoding


def _stage_inputs(model, stage, frames):
    mulan = model._mulan_conditions(["boom bap beat, 90 bpm", None], None)  # a prompt and the null condition
    spec = model.specs[stage]
    previous = None
    if spec["aligned"]:
        a = spec["aligned"]
        torch.manual_seed(5)
        previous = torch.randint(0, a["cardinality"], (2, a["num_streams"], frames))
    return model._conditions(stage, mulan, previous, 0, frames)


@pytest.mark.parametrize("stage", ["semantic", "coarse", "fine"])
@pytest.mark.parametrize("sampling", [False, True])
def test_same_tokens_as_audiocraft(tiny_musiclm, stage, sampling):
    lm = tiny_musiclm.lms[stage]
    assert fast_decoding.unsupported(lm) is None
    conditions = _stage_inputs(tiny_musiclm, stage, 30)
    outs = []
    for generate in (lm.generate, lambda **kw: fast_decoding.generate(lm, **kw)):
        torch.manual_seed(11)
        first = generate(conditions=conditions, max_gen_len=30, use_sampling=sampling, top_k=min(20, lm.card),
                         cfg_coef=3.0)
        torch.manual_seed(12)
        prompted = generate(prompt=first[..., :12], conditions=conditions, max_gen_len=30, use_sampling=sampling,
                            top_p=0.9, cfg_coef=2.0)
        outs.append((first, prompted))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    assert torch.equal(outs[1][1][..., :12], outs[1][0][..., :12])  # the prompt is kept


def test_unconditional_same_tokens(tiny_musiclm):
    lm = tiny_musiclm.lms["semantic"]
    outs = []
    for generate in (lm.generate, lambda **kw: fast_decoding.generate(lm, **kw)):
        torch.manual_seed(3)
        outs.append(generate(num_samples=2, max_gen_len=20, use_sampling=True, top_k=10))
    assert torch.equal(*outs)


def test_unsupported_model_is_refused(tiny_bundle, hierarchy_parts, stage_args):
    from beatlm import train
    from beatlm.models.builders import get_stage_lm
    from beatlm.models.loaders import load_mulan_model
    cfg = train.main.get_xp(stage_args("semantic", tiny_bundle, hierarchy_parts,
                                        "transformer_lm.custom=true")).cfg
    spec = {"stage": "semantic", "n_q": 1, "card": 16, "frame_rate": 25.0, "aligned": None}
    lm = get_stage_lm(cfg, spec, load_mulan_model(hierarchy_parts["mulan"])).eval()
    assert "custom" in fast_decoding.unsupported(lm)
    with pytest.raises(ValueError, match="does not support"):
        fast_decoding.generate(lm, num_samples=1, max_gen_len=4)


def test_musiclm_decoders_agree(tiny_musiclm):
    model = tiny_musiclm
    outs = []
    for decoder in ("fast", "audiocraft"):
        model.set_generation_params(duration=1.2, extend_stride=0.5, decoder=decoder)
        torch.manual_seed(4)
        outs.append(model.generate(["g-funk beat"], return_tokens=True)[1])
    assert torch.equal(*outs)
